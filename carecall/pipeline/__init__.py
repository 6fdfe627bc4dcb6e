"""How a call is assembled: the pipeline builder, turn-taking, the observers and what they
record of a call (`events.py`), and the event bus across instances (`redis_bus.py`)."""
