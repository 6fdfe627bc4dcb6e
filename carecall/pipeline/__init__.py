"""The parts a call's pipeline is made of beyond the processors: turn-taking (`turns.py`,
`turn_words.py`), the observers and what they record of a call (`observers.py`, `events.py`), and
the event bus across instances (`redis_bus.py`). The call itself is assembled from them in
`carecall.bot.builder`."""
