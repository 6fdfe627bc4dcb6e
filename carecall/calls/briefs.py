"""Who a call is for, as the bot needs it during the call: `CallBrief` and the `CallBriefs` store.

A call placed for someone on the roster greets them by name, says on whose behalf it calls, and
gives the model their notes. That takes a database read, which the real-time path must not wait
for: the `/twilio/voice` webhook (an HTTP request before the media stream opens) loads the brief
and remembers it under the call's id, and the media stream takes it from memory when it starts.
Only a stream that opens on another process reads the database, for at most
``lookup_timeout`` seconds, and otherwise greets generically. Entries are forgotten when the
call ends, and there are never more than ``max_entries`` (the oldest go first), so calls whose
stream never opened can't make the store grow without bound.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from loguru import logger

from carecall.persistence.models import Caregiver, ContactMethod, Senior
from carecall.persistence.repositories import CallRepository
from carecall.persistence.roster import SeniorRepository
from carecall.persistence.wellbeing import WellbeingRepository

DEFAULT_LOOKUP_TIMEOUT = 0.5
DEFAULT_MAX_ENTRIES = 2000


@dataclass(frozen=True)
class CaregiverLine:
    """A caregiver a call can be put through to."""

    spoken: str
    """How the bot names them to the person: "your daughter Susan", or "Susan Smith"."""
    first_name: str
    phone_number: str
    name: str = ""
    """Their full name, as the call's record names them ("Tom Jones"); never their number."""

    @classmethod
    def of(cls, caregiver: Caregiver) -> CaregiverLine:
        first = caregiver.name.split()[0]
        relation = (caregiver.relation or "").strip().lower()
        return cls(
            spoken=f"your {relation} {first}" if relation else caregiver.name,
            first_name=first,
            phone_number=caregiver.phone_number,
            name=caregiver.name,
        )


@dataclass(frozen=True)
class CallBrief:
    """What the bot knows about the person it calls; all empty for a number not on the roster
    (and for demo calls and talks in the browser): the generic greeting then."""

    spoken_name: str | None = None
    """What the bot calls them: their preferred name, else their first name."""
    on_behalf_of: str | None = None
    """Who the calls are made for ("your daughter Susan"); None: the organization."""
    notes: str = ""
    """Operator-typed background (interests, family names, hearing): facts, never instructions."""
    language: str = "en"
    memory: str | None = None
    """The digest of their recent calls (`wellbeing.memory`): things to follow up on."""
    senior_id: int | None = None
    connect_to: CaregiverLine | None = None
    """Whom the bot may put the call through to when something is urgent: the first caregiver
    who asked to be phoned (contact by `call`); None: nobody (the bot then offers nothing)."""
    connect_ladder: tuple[CaregiverLine, ...] = ()
    """Every caregiver who asked to be phoned, in their order (``connect_to`` first): a
    hand-over tries the next when one doesn't take the call (`calls.handover`)."""
    patience: float = 1.0
    """Their pause profile: a factor on every end-of-turn pause (`pipeline.turns`)."""
    record: bool = False
    """Record the call: "record calls" is on and their consent record says recording was
    agreed (`calls.recordings`)."""

    @property
    def personal(self) -> bool:
        return self.spoken_name is not None

    @classmethod
    def of(cls, senior: Senior, memory: str | None = None) -> CallBrief:
        phoned = tuple(
            CaregiverLine.of(c) for c in senior.caregivers if c.contact_by is ContactMethod.CALL
        )
        return cls(
            senior_id=senior.id,
            connect_to=phoned[0] if phoned else None,
            connect_ladder=phoned,
            spoken_name=senior.spoken_name,
            on_behalf_of=senior.on_behalf_of or None,
            notes=(senior.notes or "").strip(),
            language=senior.language or "en",
            memory=(memory or "").strip() or None,
            patience=senior.turn_patience or 1.0,
            record=senior.records_calls,
        )


GENERIC_BRIEF = CallBrief()


class CallBriefs:
    """The briefs of this process's calls, by call id (see the module's docstring)."""

    def __init__(
        self,
        calls: CallRepository,
        seniors: SeniorRepository,
        memories: WellbeingRepository | None = None,
        *,
        lookup_timeout: float = DEFAULT_LOOKUP_TIMEOUT,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._calls = calls
        self._seniors = seniors
        self._memories = memories
        self._lookup_timeout = lookup_timeout
        self._max_entries = max_entries
        self._by_call: OrderedDict[int, CallBrief] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_call)

    async def load(self, call_id: int) -> CallBrief:
        """Read the call's person from the database and remember their brief (the voice
        webhook, before the stream opens). A call to no one on the roster gets the generic
        brief; a database error propagates (the webhook's caller decides)."""
        brief = await self._read(call_id)
        self.remember(call_id, brief)
        return brief

    def remember(self, call_id: int, brief: CallBrief) -> None:
        self._by_call[call_id] = brief
        self._by_call.move_to_end(call_id)
        while len(self._by_call) > self._max_entries:
            self._by_call.popitem(last=False)

    def get(self, call_id: int) -> CallBrief | None:
        """The remembered brief, or None (never reads the database)."""
        return self._by_call.get(call_id)

    async def for_stream(self, call_id: int) -> CallBrief:
        """The brief for a media stream that is starting: from memory, else from the database
        within ``lookup_timeout`` seconds, else (slow or failing database) the generic one, so
        the greeting is never held up for long."""
        remembered = self._by_call.get(call_id)
        if remembered is not None:
            return remembered
        try:
            brief = await asyncio.wait_for(self._read(call_id), self._lookup_timeout)
        except TimeoutError:
            logger.bind(call_id=call_id).warning(
                "The call's person could not be read in time; greeting generically"
            )
            return GENERIC_BRIEF
        except Exception as exc:
            logger.bind(call_id=call_id).warning(
                f"The call's person could not be read ({exc!r}); greeting generically"
            )
            return GENERIC_BRIEF
        self.remember(call_id, brief)
        return brief

    def forget(self, call_id: int) -> None:
        """The call is over (its stream closed, or Twilio reported a final status)."""
        self._by_call.pop(call_id, None)

    async def _read(self, call_id: int) -> CallBrief:
        call = await self._calls.get(call_id)
        if call is None or call.senior_id is None:
            return GENERIC_BRIEF
        senior = await self._seniors.get(call.senior_id)
        if senior is None:
            return GENERIC_BRIEF
        memory = await self._memories.digest_for(senior.id) if self._memories else None
        return CallBrief.of(senior, memory)
