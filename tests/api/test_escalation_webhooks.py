"""Caregivers' answers through the real app, on both databases: a signed text to our number, a
key press on a notice call, and the `/api/escalations` routes. Forged or unsigned webhooks are
refused and change nothing; a key press only acknowledges the escalation its call was about."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from carecall.checkins.roster import CaregiverInput
from carecall.persistence.models import CheckinOutcome, EscalationState
from carecall.settings import Settings
from tests.api.support import add_api_key, sign, signed_post
from tests.checkins.clocks import FakeClock
from tests.checkins.program import Program, running_program
from tests.checkins.test_escalation import (
    JOHN,
    OUR_NUMBER,
    SUSAN,
    add_mary,
    advance,
    chicago,
    gather_of,
    open_for_missed,
    sent,
    stored,
)
from tests.conftest import TEST_ACCOUNT_SID

FORBIDDEN = {"detail": "Invalid or missing Twilio signature."}
STRANGER = "+13125550199"


@pytest.fixture
def program(make_settings: Callable[..., Settings], database_url: str) -> Iterator[Program]:
    clock = FakeClock(chicago(2, 10, 47))
    settings = make_settings(database_url=database_url, organization_name="Sunny Care")
    with running_program(settings, clock) as program:
        program.client.headers["Authorization"] = f"Bearer {add_api_key(program.client)}"
        yield program


def text_params(sender: str, body: str) -> dict[str, str]:
    """An inbound message webhook's form, with the fields Twilio sends."""
    return {
        "ToCountry": "US",
        "SmsMessageSid": "SM" + "b" * 32,
        "NumMedia": "0",
        "SmsSid": "SM" + "b" * 32,
        "SmsStatus": "received",
        "Body": body,
        "To": OUR_NUMBER,
        "NumSegments": "1",
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": TEST_ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def key_params(to: str, digits: str) -> dict[str, str]:
    """What Twilio posts to a `<Gather>`'s action after a key press on our outbound call."""
    return {
        "AccountSid": TEST_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": "CA" + "c" * 32,
        "CallStatus": "in-progress",
        "Called": to,
        "Caller": OUR_NUMBER,
        "Digits": digits,
        "Direction": "outbound-api",
        "FinishedOnKey": "",
        "From": OUR_NUMBER,
        "To": to,
        "msg": "Gather End",
    }


def text(program: Program, sender: str, body: str) -> str | None:
    """Send a signed text; the reply message's words (None: an empty TwiML response)."""
    response = signed_post(program.client, "/twilio/sms", text_params(sender, body))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    message = ET.fromstring(response.text).find("Message")
    return None if message is None else message.text


def press(program: Program, path_with_query: str, to: str, digits: str) -> list[str]:
    """Post a signed key press; what the TwiML answer says (it always hangs up)."""
    response = signed_post(program.client, path_with_query, key_params(to, digits))
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.text)
    assert root.find("Hangup") is not None
    return [say.text or "" for say in root.findall("Say")]


def escalated_to_john(program: Program) -> tuple[int, str]:
    """Mary's escalation, with John called: its id and the key-press URL from the call's TwiML."""
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    program.clock.advance(minutes=31)
    assert advance(program) == 1
    _, gather = gather_of(program.twilio.sent("call")[-1])
    action = urlsplit(gather["action"])
    return escalation.id, f"{action.path}?{action.query}"


def state_of(program: Program, escalation_id: int) -> EscalationState:
    return stored(program, escalation_id).state


# --- texts ---------------------------------------------------------------------------------------


def test_unsigned_and_forged_texts_are_refused_and_change_nothing(program: Program) -> None:
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    params = text_params(SUSAN, "OK")

    unsigned = program.client.post(
        "/twilio/sms", data=params, headers={"Authorization": "", "Cookie": ""}
    )
    forged = program.client.post(
        "/twilio/sms",
        data=params,
        headers={"X-Twilio-Signature": sign("/twilio/sms", params, token="not-the-auth-token")},
    )
    tampered = program.client.post(
        "/twilio/sms",
        data={**params, "From": JOHN},
        headers={"X-Twilio-Signature": sign("/twilio/sms", params)},
    )
    for response in (unsigned, forged, tampered):
        assert response.status_code == 403
        assert response.json() == FORBIDDEN
    assert state_of(program, escalation.id) is EscalationState.OPEN


def test_a_stranger_gets_a_polite_answer_and_nothing_changes(program: Program) -> None:
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    assert text(program, STRANGER, "OK") == (
        "Thank you for your message. There's nothing waiting for an answer from you right now."
    )
    # John is on the ladder but hasn't been told yet: his OK is not an acknowledgement.
    assert text(program, JOHN, "ok") == (
        "Thank you for your message. There's nothing waiting for an answer from you right now."
    )
    assert state_of(program, escalation.id) is EscalationState.OPEN
    assert sent(program) == [("10:47", "sms", SUSAN)]


def test_a_caregivers_other_replies_change_nothing(program: Program) -> None:
    senior, checkin = add_mary(program)
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    assert (
        text(program, SUSAN, "Who is this?") == "To let us know you're checking on Mary, reply OK."
    )
    assert text(program, SUSAN, "STOP") is None  # Twilio answers STOP (and HELP) itself
    assert text(program, SUSAN, "help") is None
    assert state_of(program, escalation.id) is EscalationState.OPEN

    assert text(program, SUSAN, "yes") == (
        "Thank you, Susan. We've noted that you're checking on Mary."
    )
    assert stored(program, escalation.id).acknowledged_by == "Susan Smith (SMS)"
    assert text(program, SUSAN, "OK") == (
        "Thank you for your message. There's nothing waiting for an answer from you right now."
    )


def test_a_late_ok_after_someone_else_acknowledged_keeps_the_first(program: Program) -> None:
    escalation_id, ack_path = escalated_to_john(program)
    assert press(program, ack_path, JOHN, "1") == [
        "Thank you. We've noted that you're checking on Mary. Goodbye."
    ]
    assert text(program, SUSAN, "OK") == (
        "Thank you for your message. There's nothing waiting for an answer from you right now."
    )
    row = stored(program, escalation_id)
    assert (row.state, row.acknowledged_by) == (EscalationState.ACKNOWLEDGED, "John Smith (call)")


# --- key presses ---------------------------------------------------------------------------------


def test_pressing_1_on_the_notice_call_acknowledges_as_the_person_called(
    program: Program,
) -> None:
    escalation_id, ack_path = escalated_to_john(program)
    program.clock.advance(minutes=2)
    assert press(program, ack_path, JOHN, "1") == [
        "Thank you. We've noted that you're checking on Mary. Goodbye."
    ]
    row = stored(program, escalation_id)
    assert row.state is EscalationState.ACKNOWLEDGED
    assert row.acknowledged_by == "John Smith (call)"
    program.clock.advance(hours=3)
    assert advance(program) == 0
    assert len(sent(program)) == 2


def test_other_keys_and_borrowed_tokens_are_refused(program: Program) -> None:
    mary_id, mary_path = escalated_to_john(program)
    # John is first on Ann's ladder too: called at once about her.
    ann, ann_checkin = add_mary(
        program,
        (CaregiverInput(name="John Smith", phone_number=JOHN, contact_by="call"),),
        name="Ann Jones",
        phone="+13125550102",
    )
    ann_escalation = open_for_missed(program, ann_checkin, ann, CheckinOutcome.BUSY)
    assert ann_escalation is not None
    _, gather = gather_of(program.twilio.sent("call")[-1])
    ann_action = urlsplit(gather["action"])
    ann_path = f"{ann_action.path}?{ann_action.query}"
    mary_token = parse_qs(urlsplit(mary_path).query)["token"][0]

    assert press(program, mary_path, JOHN, "2") == ["Goodbye."]
    assert press(program, mary_path, SUSAN, "1") == ["Goodbye."]  # the token is John's
    borrowed = "/twilio/escalation-ack?" + urlencode(
        {"escalation_id": ann_escalation.id, "token": mary_token}
    )
    assert press(program, borrowed, JOHN, "1") == ["Goodbye."]
    no_token = f"/twilio/escalation-ack?escalation_id={mary_id}"
    assert press(program, no_token, JOHN, "1") == ["Goodbye."]
    assert state_of(program, mary_id) is EscalationState.OPEN
    assert state_of(program, ann_escalation.id) is EscalationState.OPEN

    # Ann's own call acknowledges Ann's escalation, and only hers.
    assert press(program, ann_path, JOHN, "1") == [
        "Thank you. We've noted that you're checking on Ann. Goodbye."
    ]
    assert state_of(program, ann_escalation.id) is EscalationState.ACKNOWLEDGED
    assert state_of(program, mary_id) is EscalationState.OPEN


def test_unsigned_and_forged_key_presses_are_refused(program: Program) -> None:
    escalation_id, ack_path = escalated_to_john(program)
    params = key_params(JOHN, "1")
    unsigned = program.client.post(ack_path, data=params, headers={"Authorization": ""})
    forged = program.client.post(
        ack_path,
        data=params,
        headers={"X-Twilio-Signature": sign(ack_path, params, token="not-the-auth-token")},
    )
    for response in (unsigned, forged):
        assert response.status_code == 403
        assert response.json() == FORBIDDEN
    bad_id = signed_post(program.client, "/twilio/escalation-ack?escalation_id=x", params)
    assert bad_id.status_code == 422
    assert state_of(program, escalation_id) is EscalationState.OPEN


# --- /api/escalations ---------------------------------------------------------------------------


def test_the_api_lists_and_acknowledges_escalations(program: Program) -> None:
    escalation_id, _ = escalated_to_john(program)
    senior_id = stored(program, escalation_id).senior_id

    page = program.client.get("/api/escalations", params={"state": "open"}).json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert item["id"] == escalation_id and item["senior_id"] == senior_id
    assert (item["state"], item["step"], item["reason"]) == ("open", 2, "3 tries: no answer")
    assert item["next_step_at"] == "2026-03-02T17:48:00Z"
    assert [(n["contact_name"], n["method"], n["to_number"]) for n in item["notices"]] == [
        ("Susan Smith", "sms", SUSAN),
        ("John Smith", "call", JOHN),
    ]
    assert item["notices"][0]["sent_at"] == "2026-03-02T16:47:00Z"
    assert item["notices"][0]["twilio_sid"].startswith("SM")
    assert program.client.get("/api/escalations", params={"state": "exhausted"}).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
    other = program.client.get("/api/escalations", params={"senior_id": senior_id + 1}).json()
    assert other["total"] == 0

    program.clock.advance(minutes=3)
    done = program.client.post(f"/api/escalations/{escalation_id}/acknowledge")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["acknowledged_by"]) == ("acknowledged", "tests")
    assert body["acknowledged_at"] == "2026-03-02T17:21:00Z" and body["next_step_at"] is None
    assert program.client.get(f"/api/escalations/{escalation_id}").json()["state"] == (
        "acknowledged"
    )

    again = program.client.post(f"/api/escalations/{escalation_id}/acknowledge")
    assert again.status_code == 409
    assert again.json() == {"detail": "This escalation was already acknowledged by tests."}
    missing = program.client.post(f"/api/escalations/{escalation_id + 100}/acknowledge")
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"There is no escalation {escalation_id + 100}."}
    assert program.client.get("/api/escalations/99999").status_code == 404
    program.clock.advance(hours=2)
    assert advance(program) == 0


def test_the_api_refuses_bad_input_and_strangers(program: Program) -> None:
    bad_state = program.client.get("/api/escalations", params={"state": "lost"})
    assert bad_state.status_code == 422
    assert "state" in bad_state.json()["detail"]
    assert program.client.post("/api/escalations/0/acknowledge").status_code == 422
    assert program.client.post(f"/api/escalations/{2**40}/acknowledge").status_code == 422
    assert program.client.get("/api/escalations", params={"senior_id": "x"}).status_code == 422

    anonymous = program.client.get("/api/escalations", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    forged_key = program.client.post(
        "/api/escalations/1/acknowledge", headers={"Authorization": "Bearer cc_not_a_key"}
    )
    assert forged_key.status_code == 401


# --- in the person's language ------------------------------------------------------------------


def test_a_spanish_speaker_s_caregivers_are_texted_called_and_answered_in_spanish(
    program: Program,
) -> None:
    senior, checkin = add_mary(program, language="es")
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    # The dashboard's reason stays English; Susan's text is Spanish.
    assert escalation.reason == "3 tries: no answer"
    assert program.twilio.sent("sms")[0].form["Body"] == (
        "Sunny Care: No pudimos hablar con Mary Smith en su llamada de las 10:00 de hoy "
        "(3 intentos: no contestó). Por favor, asegúrese de que Mary esté bien. Responda OK "
        "para avisarnos de que usted se encarga."
    )
    assert text(program, SUSAN, "¿Quién es?") == (
        "Para avisarnos de que usted se ocupa de Mary, responda OK."
    )

    program.clock.advance(minutes=31)
    assert advance(program) == 1
    call = program.twilio.sent("call")[-1]
    root = ET.fromstring(str(call.form["Twiml"]))
    says = root.findall(".//Say")
    assert {(say.get("language"), say.get("voice")) for say in says} == {("es-MX", "Polly.Mia")}
    said, gather = gather_of(call)
    assert said == [
        "Hola, este es un mensaje automático de Sunny Care. No pudimos hablar con Mary Smith en "
        "su llamada de las 10:00 de hoy, 3 intentos, no contestó. Por favor, asegúrese de que "
        "Mary esté bien.",
        "Oprima el 1 para avisarnos de que usted se encarga.",
    ]
    action = urlsplit(gather["action"])
    response = signed_post(program.client, f"{action.path}?{action.query}", key_params(JOHN, "1"))
    [answer] = ET.fromstring(response.text).findall("Say")
    assert answer.text == "Gracias. Hemos anotado que usted se ocupa de Mary. Adiós."
    assert (answer.get("language"), answer.get("voice")) == ("es-MX", "Polly.Mia")
    assert state_of(program, escalation.id) is EscalationState.ACKNOWLEDGED

    # John has it in hand: Susan's late "vale" finds nothing waiting, and is told so in Spanish.
    assert text(program, SUSAN, "Vale") == (
        "Gracias por su mensaje. Ahora mismo no hay nada pendiente de respuesta."
    )


@pytest.mark.parametrize("body", ["Sí", "si, voy", "Vale", "De acuerdo", "Listo 👍"])
def test_spanish_replies_acknowledge(program: Program, body: str) -> None:
    senior, checkin = add_mary(program, language="es")
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    assert text(program, SUSAN, body) == (
        "Gracias, Susan. Hemos anotado que usted se ocupa de Mary."
    )
    assert state_of(program, escalation.id) is EscalationState.ACKNOWLEDGED


def test_a_late_reply_is_answered_in_the_language_of_whom_it_was_about(program: Program) -> None:
    senior, checkin = add_mary(program, language="es")
    escalation = open_for_missed(program, checkin, senior)
    assert escalation is not None
    assert text(program, SUSAN, "Sí") is not None  # acknowledged: nothing waits any more
    assert text(program, SUSAN, "Gracias") == (
        "Gracias por su mensaje. Ahora mismo no hay nada pendiente de respuesta."
    )
    assert text(program, STRANGER, "Hola") == (
        "Thank you for your message. There's nothing waiting for an answer from you right now."
    )
