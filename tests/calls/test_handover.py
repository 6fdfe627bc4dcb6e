"""The warm hand-over's state machine (`calls.handover.Handover`), with Twilio and the person's
pipeline faked at their edges: who is called, in which order, what the caregiver hears, what the
person is told, which steps are stored, and what happens when someone accepts, declines, never
answers, or the person hangs up meanwhile. Their TwiML and webhooks run for real in
tests/api/test_handover_webhooks.py, and the whole hand-over in tests/e2e/test_handover_e2e.py.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from carecall.calls.briefs import CallBrief, CaregiverLine
from carecall.calls.handover import (
    Handover,
    HandoverDesk,
    HandoverWords,
    LegSignal,
    LegVerdict,
    Phase,
    Step,
)
from carecall.core.events import InProcessEventBus
from carecall.pipeline.events import StepRecord
from carecall.settings import Settings
from carecall.telephony.security import HandoverTokens
from carecall.telephony.twilio_client import NumberNotCallable, TwilioError
from carecall.wellbeing.red_flags import detect

PERSON_SID = "CA" + "p" * 32
TOM = CaregiverLine("your son Tom", "Tom", "+14155550191", "Tom Jones")
ANNA = CaregiverLine("your daughter Anna", "Anna", "+14155550192", "Anna Jones")
_FALL = detect("I fell in the bathroom and I can't get up")
assert _FALL is not None
FALL = _FALL


@dataclass
class PlacedLeg:
    to: str
    twiml: str
    status_url: str
    sid: str

    @property
    def leg(self) -> int:
        return int(parse_qs(urlsplit(self.status_url).query)["leg"][0])

    def said(self) -> list[str]:
        return [say.text or "" for say in ET.fromstring(self.twiml).iter("Say")]

    def key_url(self) -> str:
        gather = ET.fromstring(self.twiml).find("Gather")
        assert gather is not None
        return gather.get("action", "")


@dataclass
class FakePhone:
    """Twilio's REST side of the hand-over: calls placed, calls redirected or ended."""

    placed: list[PlacedLeg] = field(default_factory=list)
    redirected: list[tuple[str, str]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    refuse: dict[str, TwilioError] = field(default_factory=dict)
    fail_redirects: bool = False

    async def call_caregiver(self, to_number: str, twiml: str, status_url: str) -> str:
        if to_number in self.refuse:
            raise self.refuse[to_number]
        sid = f"CA{len(self.placed):032x}"
        self.placed.append(PlacedLeg(to_number, twiml, status_url, sid))
        return sid

    async def redirect(self, call_sid: str, twiml: str) -> None:
        if self.fail_redirects:
            raise TwilioError("Twilio could not redirect the call: gone", status=500)
        self.redirected.append((call_sid, twiml))

    async def end_call(self, call_sid: str) -> None:
        self.ended.append(call_sid)


@dataclass
class FakePerson:
    """The person's side: what the bot was given to say, to fill silences, and to know."""

    said: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    """Lines said and waited for (`say_and_wait`)."""
    staying: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hold: asyncio.Event | None = None
    """When set, `say_and_wait` waits for it (the line takes a while to be heard)."""

    async def say(self, text: str) -> None:
        self.said.append(text)

    async def say_and_wait(self, text: str, timeout: float) -> None:
        self.heard.append(text)
        if self.hold is not None:
            await self.hold.wait()

    def stay_with(self, lines: Sequence[str]) -> None:
        self.staying.append(list(lines))

    async def tell_model(self, note: str) -> None:
        self.notes.append(note)


@dataclass
class Rig:
    handover: Handover
    phone: FakePhone
    person: FakePerson
    steps: list[StepRecord]
    claims: list[str]

    def kinds(self) -> list[str]:
        return [step.kind for step in self.steps]

    async def status(self, leg: PlacedLeg, status: str) -> None:
        await self.handover.leg_status(leg.leg, status, leg.sid)

    async def press(self, leg: PlacedLeg, digits: str) -> LegVerdict:
        return await self.handover.key_pressed(leg.leg, digits, leg.sid)


def rig(
    ladder: Sequence[CaregiverLine] = (TOM, ANNA),
    *,
    phone: FakePhone | None = None,
    leg_timeout: float = 60.0,
    ending: str | None = None,
) -> Rig:
    phone = phone or FakePhone()
    person = FakePerson()
    steps: list[StepRecord] = []
    claims: list[str] = []

    def claim() -> bool:
        if ending is not None:
            return False
        claims.append("claimed")
        return True

    handover = Handover(
        call_id=7,
        call_sid=PERSON_SID,
        ladder=ladder,
        words=HandoverWords("Sunny", "Sunny Care", "Molly"),
        phone=phone,
        tokens=HandoverTokens("secret"),
        public_url=lambda path: "https://carecall.example.org" + path,
        record=steps.append,
        claim_call=claim,
        release_call=lambda: claims.append("released"),
        leg_timeout=leg_timeout,
    )
    handover.attach(person)
    handover.flagged(FALL)
    return Rig(handover, phone, person, steps, claims)


async def test_the_caregiver_hears_the_persons_words_and_accepts_with_1() -> None:
    r = rig()
    assert await r.handover.start()
    (tom,) = r.phone.placed
    assert tom.to == TOM.phone_number
    summary, ask = tom.said()[:2]
    assert summary == (
        "This is Sunny from Sunny Care. Molly told me on our call just now: "
        "“I fell in the bathroom and I can't get up.”"
    )
    assert ask == "Press 1 to talk to Molly now, or hang up if you can't."
    assert urlsplit(tom.key_url()).path == "/twilio/handover/key"
    # The person is told at once, and never left in silence meanwhile.
    assert r.person.said[0].startswith("I'm getting hold of your son Tom for you now.")
    assert r.person.staying[-1] == [
        "I'm still getting hold of Tom for you. Stay where you are; I'm right here with you.",
        FALL.advice,
    ]
    assert "phoning your son Tom" in r.person.notes[0]

    await r.status(tom, "ringing")
    await r.status(tom, "in-progress")
    assert await r.press(tom, "1") is LegVerdict.JOIN
    await r.handover.wait_idle()

    assert r.person.heard == ["Tom is on the line. I'm connecting you to Tom now."]
    ((sid, twiml),) = r.phone.redirected
    room = HandoverTokens("secret").room(7)
    conference = ET.fromstring(twiml).find("Dial/Conference")
    assert sid == PERSON_SID and conference is not None and conference.text == room
    assert conference.get("endConferenceOnExit") == "true"
    assert r.claims == ["claimed"]
    assert r.kinds() == ["dialling", "answered", "accepted", "bridged"]
    assert [s.sequence for s in r.steps] == [1, 2, 3, 4]
    assert r.steps[-1].text == "Molly and Tom Jones were connected."
    assert r.handover.phase is Phase.BRIDGED
    # A late status of the accepted caregiver's call changes nothing now.
    await r.status(tom, "completed")
    assert r.kinds()[-1] == "bridged"


async def test_a_decline_or_no_answer_tries_the_next_caregiver_and_the_person_is_told() -> None:
    r = rig()
    await r.handover.start()
    tom = r.phone.placed[0]
    await r.status(tom, "ringing")
    await r.status(tom, "no-answer")
    assert [leg.to for leg in r.phone.placed] == [TOM.phone_number, ANNA.phone_number]
    assert r.person.said[-1] == (
        "Tom can't come to the phone just now, so I'm calling your daughter Anna. "
        "Stay where you are; I'm right here with you."
    )
    assert r.person.staying[-1][0].startswith("I'm still getting hold of Anna")
    anna = r.phone.placed[1]
    await r.status(anna, "in-progress")
    assert await r.press(anna, "1") is LegVerdict.JOIN
    await r.handover.wait_idle()
    assert r.kinds() == ["dialling", "no_answer", "dialling", "answered", "accepted", "bridged"]
    assert r.steps[1].text == "Tom Jones: didn't answer."
    assert r.person.heard == ["Anna is on the line. I'm connecting you to Anna now."]


async def test_nobody_accepts_the_person_hears_the_advice_and_the_bot_stays() -> None:
    r = rig()
    await r.handover.start()
    tom = r.phone.placed[0]
    await r.status(tom, "busy")
    anna = r.phone.placed[1]
    await r.status(anna, "in-progress")
    assert await r.press(anna, "2") is LegVerdict.DECLINED
    await r.status(anna, "completed")  # Twilio's callback after the decline: already counted

    assert r.kinds() == ["dialling", "no_answer", "dialling", "answered", "declined", "gave_up"]
    assert r.steps[1].text == "Tom Jones: the line was busy."
    assert r.steps[4].text == "Anna Jones declined (pressed 2)."
    assert r.steps[-1].text == (
        "Nobody took the call (tried Tom Jones and Anna Jones); the bot stayed with Molly "
        "and repeated the safety advice."
    )
    assert r.person.said[-1] == (
        f"I'm sorry, I couldn't reach Tom and Anna just now. {FALL.advice} "
        "I'm staying right here with you."
    )
    assert "9 1 1" in r.person.said[-1]
    # Every silence from now on is filled with the advice, in turn with a reassurance.
    assert r.person.staying[-1][0] == FALL.advice
    assert r.handover.phase is Phase.GAVE_UP
    assert r.phone.redirected == [] and r.claims == []
    # A key press that comes now is too late.
    assert await r.press(anna, "1") is LegVerdict.MOOT


async def test_a_caregiver_who_answers_and_hangs_up_without_a_key_has_declined() -> None:
    r = rig([TOM])
    await r.handover.start()
    tom = r.phone.placed[0]
    await r.status(tom, "in-progress")
    await r.status(tom, "completed")
    assert r.kinds() == ["dialling", "answered", "declined", "gave_up"]
    assert r.steps[2].text == "Tom Jones hung up without pressing 1."


async def test_the_person_hanging_up_meanwhile_cancels_the_caregivers_call() -> None:
    r = rig()
    await r.handover.start()
    tom = r.phone.placed[0]
    await r.status(tom, "ringing")
    await r.handover.person_left("caller-hangup")
    assert r.phone.ended == [tom.sid]
    assert r.kinds() == ["dialling", "cancelled"]
    assert r.steps[-1].text == (
        "Molly hung up while Tom Jones was being called; that call was cancelled."
    )
    # Twilio's callback for the cancelled call, or Tom's key press, changes nothing.
    await r.status(tom, "canceled")
    assert await r.press(tom, "1") is LegVerdict.MOOT
    assert len(r.phone.placed) == 1 and r.kinds()[-1] == "cancelled"
    assert not await r.handover.start()  # over


async def test_the_person_leaving_while_being_connected_tells_the_caregiver() -> None:
    r = rig()
    r.person.hold = asyncio.Event()  # "connecting you now" is still being said
    await r.handover.start()
    tom = r.phone.placed[0]
    assert await r.press(tom, "1") is LegVerdict.JOIN
    await asyncio.sleep(0)
    await r.handover.person_left("caller-hangup")
    await r.handover.wait_idle()
    assert r.kinds() == ["dialling", "accepted", "cancelled"]
    ((sid, twiml),) = r.phone.redirected
    assert sid == tom.sid and "ended before I could connect you" in twiml
    assert r.claims == []


async def test_a_caregiver_who_cannot_be_called_is_skipped() -> None:
    phone = FakePhone(refuse={TOM.phone_number: NumberNotCallable("not a valid number")})
    r = rig(phone=phone)
    await r.handover.start()
    assert [leg.to for leg in r.phone.placed] == [ANNA.phone_number]
    assert r.kinds() == ["dialling", "unreachable", "dialling"]
    assert r.steps[1].text == "Tom Jones could not be called: not a valid number"


async def test_no_word_from_twilio_in_time_counts_as_no_answer() -> None:
    r = rig(leg_timeout=0.05)
    await r.handover.start()
    tom = r.phone.placed[0]
    for _ in range(100):
        if len(r.phone.placed) == 2:
            break
        await asyncio.sleep(0.01)
    assert r.phone.ended == [tom.sid]
    assert r.kinds()[:3] == ["dialling", "no_answer", "dialling"]
    await r.handover.person_left("caller-hangup")


async def test_a_key_press_on_an_earlier_leg_is_too_late() -> None:
    r = rig()
    await r.handover.start()
    tom = r.phone.placed[0]
    await r.status(tom, "no-answer")
    assert await r.press(tom, "1") is LegVerdict.MOOT
    assert r.handover.phase is Phase.DIALLING and len(r.phone.placed) == 2


async def test_a_caregiver_gone_before_the_person_is_moved_hands_on_to_the_next() -> None:
    r = rig()
    r.person.hold = asyncio.Event()
    await r.handover.start()
    tom = r.phone.placed[0]
    assert await r.press(tom, "1") is LegVerdict.JOIN
    await r.status(tom, "completed")
    assert r.kinds() == ["dialling", "accepted", "declined", "dialling"]
    assert r.steps[2].text == "Tom Jones hung up before being connected."
    r.person.hold.set()
    await r.handover.wait_idle()
    assert r.phone.redirected == []  # the person was not moved into an empty room


async def test_when_the_person_cannot_be_moved_the_caregiver_is_told_and_the_bot_stays() -> None:
    r = rig(phone=FakePhone(fail_redirects=True))
    await r.handover.start()
    tom = r.phone.placed[0]
    assert await r.press(tom, "1") is LegVerdict.JOIN
    await r.handover.wait_idle()
    assert r.kinds() == ["dialling", "accepted", "bridge_failed"]
    assert r.claims == ["claimed", "released"]
    assert r.person.said[-1].startswith("I'm sorry, I couldn't connect you to Tom.")
    assert r.handover.phase is Phase.GAVE_UP


async def test_no_hand_over_when_the_call_is_already_ending() -> None:
    r = rig(ending="bot-hangup: check-in complete")
    await r.handover.start()
    tom = r.phone.placed[0]
    assert await r.press(tom, "1") is LegVerdict.JOIN
    await r.handover.wait_idle()
    assert r.phone.redirected[0][0] == tom.sid  # Tom is told; the person's call isn't moved
    assert r.kinds()[-1] == "bridge_failed"


async def test_a_second_start_changes_nothing_and_after_nobody_everybody_is_tried_again() -> None:
    r = rig([TOM])
    await r.handover.start()
    assert await r.handover.start()
    assert len(r.phone.placed) == 1
    await r.status(r.phone.placed[0], "no-answer")
    assert r.handover.phase is Phase.GAVE_UP
    assert await r.handover.start()
    assert len(r.phone.placed) == 2 and r.phone.placed[1].leg == 1
    assert r.kinds() == ["dialling", "no_answer", "gave_up", "dialling"]


async def test_without_a_red_flag_the_caregiver_hears_that_the_person_asked() -> None:
    r = rig()
    r.handover._flag = None
    await r.handover.start()
    assert r.phone.placed[0].said()[0] == (
        "This is Sunny from Sunny Care. Molly asked me to get you on the phone, urgently."
    )


async def test_a_webhook_for_a_hand_over_on_another_instance_goes_over_the_bus() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_url="https://carecall.example.org",
        session_secret=SecretStr("test-session-secret-that-is-long-enough-0123"),
    )
    bus = InProcessEventBus()
    steps: list[StepRecord] = []
    phone = FakePhone()
    here = HandoverDesk(settings, phone, steps.append, bus)  # where the webhook arrives
    there = HandoverDesk(settings, phone, steps.append, bus)  # where the call runs
    await here.start()
    await there.start()
    try:
        handover = there.open(
            call_id=7,
            call_sid=PERSON_SID,
            brief=CallBrief(spoken_name="Molly", connect_to=TOM, connect_ladder=(TOM, ANNA)),
            claim_call=lambda: True,
            release_call=lambda: None,
        )
        assert handover is not None and here.find(7) is None
        handover.attach(FakePerson())
        await handover.start()
        tom = phone.placed[0]
        assert await here.deliver(LegSignal(7, tom.leg, tom.sid, status="no-answer")) is None
        for _ in range(100):
            if len(phone.placed) == 2:
                break
            await asyncio.sleep(0.01)
        assert [leg.to for leg in phone.placed] == [TOM.phone_number, ANNA.phone_number]
        # Too late on the other instance: the caregiver it put in the room is taken out.
        assert await here.deliver(LegSignal(7, tom.leg, tom.sid, digits="1")) is None
        for _ in range(100):
            if phone.redirected:
                break
            await asyncio.sleep(0.01)
        assert phone.redirected[0][0] == tom.sid
        there.close(7, handover)
        await handover.person_left("caller-hangup")
    finally:
        await here.stop()
        await there.stop()


@pytest.mark.parametrize("digits", ["", "0", "2", "#", "11"])
async def test_only_1_accepts(digits: str) -> None:
    r = rig([TOM])
    await r.handover.start()
    assert await r.press(r.phone.placed[0], digits) is LegVerdict.DECLINED
    assert r.kinds()[-1] == Step.GAVE_UP


async def test_a_number_in_twilios_refusal_is_masked_in_the_step() -> None:
    refusal = TwilioError(f"Twilio could not call the caregiver: The 'To' {TOM.phone_number} ...")
    r = rig([TOM], phone=FakePhone(refuse={TOM.phone_number: refusal}))
    await r.handover.start()
    assert r.kinds() == ["dialling", "unreachable", "gave_up"]
    assert TOM.phone_number not in r.steps[1].text and "+1••••••0191" in r.steps[1].text
