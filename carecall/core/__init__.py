"""The kernel: what every part of carecall shares and nothing of it depends on.

The injectable clock, calling hours and who may be called when, phone numbers, why a call ended,
the guided dialogue's answers, the catalogue of lines and words in each language carecall speaks
(`languages`), and the app-wide event bus. It imports nothing of carecall but
`carecall.settings` (`tests/test_layers.py` holds it to that), so any layer may import it.
"""
