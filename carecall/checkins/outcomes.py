"""What one try of a check-in came to, read from its call as Twilio left it."""

from __future__ import annotations

from carecall.core.end_reasons import NOT_SPOKEN_REASON, OPT_OUT_REASON, VOICEMAIL_REASON
from carecall.persistence.models import Call, CallStatus, CheckinOutcome

_BY_STATUS = {
    CallStatus.BUSY: CheckinOutcome.BUSY,
    CallStatus.NO_ANSWER: CheckinOutcome.NO_ANSWER,
    CallStatus.FAILED: CheckinOutcome.FAILED,
    CallStatus.CANCELED: CheckinOutcome.FAILED,
}


def answered_by_machine(answered_by: str | None) -> bool:
    """Twilio's AMD verdict: an answering machine or fax rather than a person."""
    if not answered_by:
        return False
    return answered_by.startswith("machine") or answered_by == "fax"


def try_result(call: Call) -> CheckinOutcome:
    """A finished call → the try's result. A completed call that Twilio's answering-machine
    detection heard as a machine, or where the bot left its voicemail message (the greeting's
    words gave the machine away), left a voicemail; one where the person asked not to be called
    again is an opt-out (their do-not-call flag is set by the conversation itself, which also
    closes the check-in as opted out if this status came first). A call hung up unspoken,
    because the server can't speak the person's language, failed."""
    if call.status in _BY_STATUS:
        return _BY_STATUS[call.status]
    if call.end_reason == NOT_SPOKEN_REASON:
        return CheckinOutcome.FAILED
    if answered_by_machine(call.answered_by) or call.end_reason == VOICEMAIL_REASON:
        return CheckinOutcome.VOICEMAIL
    if call.end_reason and OPT_OUT_REASON in call.end_reason:
        return CheckinOutcome.OPTED_OUT
    return CheckinOutcome.COMPLETED
