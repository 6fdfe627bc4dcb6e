"""Why a call ended: the words stored in `calls.end_reason`, which the check-in program, the
wellbeing records and the dashboard read back. The first reason given wins
(`persistence.repositories.CallRepository.note_end_reason`)."""

from __future__ import annotations

CALLER_HANGUP = "caller-hangup"
"""The person hung up: Twilio stopped the stream, or the browser's connection closed."""
OPERATOR_HANGUP = "operator-hangup"
"""Hung up from the dashboard or the API."""
STREAM_CLOSED = "stream-closed"
"""The media connection closed while nobody had hung up."""
SERVER_STOPPED = "server-stopped"
"""The end reason of a conversation whose server stopped mid-call (closed from Twilio's record)."""
BOT_HANGUP = "bot-hangup"
"""carecall said goodbye and hung up; stored as `bot-hangup: <why>` (`bot_hangup`)."""
VOICEMAIL_REASON = "voicemail"
"""The bot left a message on an answering machine (`processors.voicemail`)."""
TRANSFER_REASON = "transferred to caregiver"
OPT_OUT_REASON = "asked not to be called again"
"""The why of a bot hang-up after the person asked never to be called again, and the reason
stored with their do-not-call."""
NOT_SPOKEN_REASON = "refused: not in their language"
"""A call that connected in a language the server's speech services don't speak: hung up
without a word (`calls.conversation`)."""
SHUTDOWN_REASON = "server shutting down"
"""The why of a bot hang-up when the server stops gracefully."""


def bot_hangup(why: str) -> str:
    """The end reason of a call carecall ended, for `why` (e.g. "check-in complete")."""
    return f"{BOT_HANGUP}: {why}"
