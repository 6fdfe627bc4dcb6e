from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from loguru import logger

from carecall.server import configure_logging

if TYPE_CHECKING:
    from loguru import Record


def test_log_lines_mask_phone_numbers_and_show_the_call() -> None:
    configure_logging("INFO")
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}{extra[context]}")
    try:
        logger.bind(call_sid="CA123").info("Dialing +14155550100 from +15005550006")
    finally:
        logger.remove(sink)
    assert lines == ["Dialing +1••••••0100 from +1••••••0006 call_sid=CA123\n"]


def named(module: str) -> Callable[[Record], None]:
    """A patch making a log line come from ``module`` (as a library's own lines do)."""

    def patch(record: Record) -> None:
        record["name"] = module

    return patch
