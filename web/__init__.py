"""The dashboard: server-rendered pages (Jinja2 + Bootstrap, served locally) and a little JavaScript."""
