"""Who may use carecall: operator logins (sessions, CSRF, throttling) and API keys."""
