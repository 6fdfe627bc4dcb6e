"""The OpenAPI spec says what errors look like here, not what FastAPI's defaults would be.

Every error is JSON `{"detail": "<a sentence for a person>"}`; invalid requests (422) also list
each problem in `errors` (see `server.create_app`'s validation handler)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {"type": "array", "items": {"type": "string"}, "title": "Errors"},
    },
    "required": ["detail"],
}


def document_errors(app: FastAPI) -> None:
    """Replace FastAPI's validation-error schema (a list of objects) with carecall's."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = default_openapi()
            schemas = spec.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = ERROR_SCHEMA
                schemas.pop("ValidationError", None)
        return app.openapi_schema or default_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
