"""HTTP and websocket routes. Thin: validate, call a service, return a typed response."""
