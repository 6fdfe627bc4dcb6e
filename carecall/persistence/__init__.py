"""Storage: SQLAlchemy 2 models, engine, repositories (every query lives there), migrations."""
