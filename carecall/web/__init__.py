"""The dashboard: server-rendered pages (Jinja2, Bootstrap served locally), a little JS."""
