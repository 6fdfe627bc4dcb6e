"""carecall: friendly, scheduled check-in phone calls to older people, a record of
every call, and word to the people who care for them when something needs attention."""
