"""carecall: friendly, scheduled check-in phone calls, in real time, with a record of
every call and word to the people who care when something needs attention."""
