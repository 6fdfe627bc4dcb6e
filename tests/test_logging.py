from __future__ import annotations

from loguru import logger

from server import configure_logging


def test_log_lines_mask_phone_numbers_and_show_the_call() -> None:
    configure_logging("INFO")
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}{extra[context]}")
    try:
        logger.bind(call_sid="CA123").info("Dialing +14155550100 from +15005550006")
    finally:
        logger.remove(sink)
    assert lines == ["Dialing +1••••••0100 from +1••••••0006 call_sid=CA123\n"]
