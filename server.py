"""The documented entry point from a checkout: `uvicorn server:app`.

The app itself lives in `carecall/server.py`; an installed carecall is served with
`uvicorn carecall.server:app`. This module only re-exports it.
"""

from carecall.server import app, create_app

__all__ = ["app", "create_app"]
