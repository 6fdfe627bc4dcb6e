"""What the bot is: its prompt, its tools and the speech/language services it uses."""
