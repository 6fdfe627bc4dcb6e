"""How a call is assembled: the pipeline builder, the call recorder (observer), call events."""
