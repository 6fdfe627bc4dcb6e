"""What the bot is: its prompt, its tools and the speech/language services it uses. A call's
pipeline is assembled from them in `carecall.pipeline.builder` and run by
`carecall.calls.conversation`."""
