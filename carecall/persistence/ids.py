"""Row ids as the edge accepts them: one type for every path, query and body field that names
a stored row, and one parser for the places FastAPI does not validate (websocket query
strings, stream parameters, webhook query strings).

Ids are PostgreSQL `integer` columns (32-bit, as SQLite's are in practice here): a larger
number can't name a row, and handed to asyncpg it is a `DataError` (a 500, or a websocket
dropped without a close frame), not a "no such row". Checked at the edge it is a clear 422 (or
a websocket close code) instead.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

MAX_INTEGER = 2**31 - 1
"""The largest number a 32-bit `integer` column holds: an id, or a count stored beside one
(a call's seconds, a callback's sequence number)."""

MAX_ROW_ID = MAX_INTEGER
"""The largest id a row can have."""

RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
"""A stored row's id. In a route: `Annotated[RowId, Path(description=...)]` (or `Query`)."""

RowOffset = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]
"""How many rows a page of results skips: never more than there can be rows."""

_DIGITS = re.compile(r"[0-9]{1,10}")
_ROW_ID: TypeAdapter[int] = TypeAdapter(RowId)


def parse_row_id(raw: object) -> int | None:
    """`raw` (a query parameter or a stream `<Parameter>`) as a row id, or None when it can't
    be one: not a string of ASCII digits (`int()` would take ' 7', '+7', '7_0' and '٧'), zero,
    or past `MAX_ROW_ID`."""
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    try:
        return _ROW_ID.validate_python(int(raw))
    except ValidationError:
        return None
