"""A finished call → the check-in try's result."""

from __future__ import annotations

import pytest

from carecall.checkins.outcomes import try_result
from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.persistence.models import Call, CallStatus, CheckinOutcome


def call(status: CallStatus, answered_by: str | None = None, end_reason: str | None = None) -> Call:
    return Call(
        to_number="+13125550101", status=status, answered_by=answered_by, end_reason=end_reason
    )


@pytest.mark.parametrize(
    ("finished", "result"),
    [
        (call(CallStatus.BUSY), CheckinOutcome.BUSY),
        (call(CallStatus.NO_ANSWER), CheckinOutcome.NO_ANSWER),
        (call(CallStatus.FAILED), CheckinOutcome.FAILED),
        (call(CallStatus.CANCELED), CheckinOutcome.FAILED),
        (
            call(CallStatus.COMPLETED, "human", "bot-hangup: check-in complete"),
            CheckinOutcome.COMPLETED,
        ),
        (call(CallStatus.COMPLETED, None, "caller-hangup"), CheckinOutcome.COMPLETED),
        (call(CallStatus.COMPLETED, "unknown"), CheckinOutcome.COMPLETED),
        (call(CallStatus.COMPLETED, "machine_end_beep", "voicemail"), CheckinOutcome.VOICEMAIL),
        (call(CallStatus.COMPLETED, "machine_end_silence"), CheckinOutcome.VOICEMAIL),
        (call(CallStatus.COMPLETED, "machine_start"), CheckinOutcome.VOICEMAIL),
        (call(CallStatus.COMPLETED, "fax"), CheckinOutcome.VOICEMAIL),
        # Its greeting gave the machine away; Twilio's verdict was unsure or never came.
        (call(CallStatus.COMPLETED, "unknown", "voicemail"), CheckinOutcome.VOICEMAIL),
        (call(CallStatus.COMPLETED, None, "voicemail"), CheckinOutcome.VOICEMAIL),
        (
            call(CallStatus.COMPLETED, "human", f"bot-hangup: {OPT_OUT_REASON}"),
            CheckinOutcome.OPTED_OUT,
        ),
    ],
)
def test_a_finished_call_gives_the_tries_result(finished: Call, result: CheckinOutcome) -> None:
    assert try_result(finished) is result
