"""The bot, and where a call of it is put together: `builder.py` assembles one call's pipeline
(the line, speech-to-text, turn-taking, the model, the voice and our processors, in order; start
reading there), and `carecall.calls.conversation` runs it from its first frame to its stored end.
Beside the builder: the bot's prompt (`prompts/`), its tools, the guided check-in, and the speech,
language and voice-activity services it uses (OpenAI or local; the shared Silero model)."""
