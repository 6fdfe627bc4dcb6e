"""Storage: SQLAlchemy 2 models, the engine, repositories (every query lives there) and migrations."""
