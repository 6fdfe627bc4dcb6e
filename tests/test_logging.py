from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from loguru import logger

from server import configure_logging

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


def test_pipecats_warning_about_our_deliberate_vad_setting_is_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    try:
        logger.patch(named("pipecat.turns.user_stop.strategy")).warning(
            "PauseTolerantTurnStop#3: VAD stop_secs (0.5s) differs from the recommended "
            "default (0.2s)."
        )
        logger.patch(named("pipecat.services.openai")).warning("OpenAI answered 429")
        logger.warning("Our own warning that differs from the recommended default")
    finally:
        configure_logging("WARNING")
    err = capsys.readouterr().err
    assert "stop_secs" not in err
    assert "OpenAI answered 429" in err
    assert "Our own warning" in err
