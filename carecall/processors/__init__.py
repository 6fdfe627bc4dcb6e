"""carecall's own frame processors, one per module, each unit-tested with pipecat's run_test."""
