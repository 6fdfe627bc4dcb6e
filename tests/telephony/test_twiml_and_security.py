from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from carecall.telephony.security import CallTokens, TwilioSignatureChecker
from carecall.telephony.twiml import media_stream_twiml

# Twilio's documented example. shared/TWILIO.md pairs the +12349013030 parameters of Twilio's
# security docs with the signature of twilio-python's own test vector (+14158675309); each
# signature belongs to its own parameters, so both pairs are checked.
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
SDK_PARAMS = {**DOC_PARAMS, "Caller": "+14158675309", "From": "+14158675309"}
SDK_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_media_stream_twiml_has_connect_stream_and_parameters() -> None:
    xml = media_stream_twiml("wss://calls.example.org/ws", {"call_id": "7", "token": "abc"})
    root = ET.fromstring(xml)
    stream = root.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://calls.example.org/ws"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"call_id": "7", "token": "abc"}


@pytest.mark.parametrize("url", ["https://x.org/ws", "wss://x.org/ws?call_id=1"])
def test_media_stream_url_must_be_wss_without_query(url: str) -> None:
    with pytest.raises(ValueError):
        media_stream_twiml(url, {})


def test_twilios_documented_signature_vector_is_accepted() -> None:
    checker = TwilioSignatureChecker(DOC_TOKEN, "https://mycompany.com")
    assert checker.is_valid(DOC_SIGNATURE, "/myapp.php", "foo=1&bar=2", DOC_PARAMS)
    assert checker.is_valid(SDK_SIGNATURE, "/myapp.php", "foo=1&bar=2", SDK_PARAMS)
    assert not checker.is_valid(SDK_SIGNATURE, "/myapp.php", "foo=1&bar=2", DOC_PARAMS)


@pytest.mark.parametrize(
    ("signature", "token", "params"),
    [
        (None, DOC_TOKEN, DOC_PARAMS),
        ("", DOC_TOKEN, DOC_PARAMS),
        (DOC_SIGNATURE, "wrong-token", DOC_PARAMS),
        (DOC_SIGNATURE, DOC_TOKEN, {**DOC_PARAMS, "Digits": "9999"}),
        ("0/KCTR6DLpKmkAf8muzZqo1nDgR=", DOC_TOKEN, DOC_PARAMS),
    ],
)
def test_forged_or_missing_signatures_are_refused(
    signature: str | None, token: str, params: dict[str, str]
) -> None:
    checker = TwilioSignatureChecker(token, "https://mycompany.com")
    assert not checker.is_valid(signature, "/myapp.php", "foo=1&bar=2", params)


def test_signature_is_checked_against_the_public_url_not_the_proxy_host() -> None:
    checker = TwilioSignatureChecker(DOC_TOKEN, "https://mycompany.com/")
    assert checker.public_url("/myapp.php", "foo=1&bar=2") == DOC_URL
    assert checker.public_url("/ws", websocket=True) == "wss://mycompany.com/ws"


def test_unconfigured_checker_refuses_everything() -> None:
    checker = TwilioSignatureChecker(None, None)
    assert not checker.configured
    assert not checker.is_valid(DOC_SIGNATURE, "/myapp.php", "foo=1&bar=2", DOC_PARAMS)


def test_call_tokens_are_per_call_and_per_secret() -> None:
    tokens = CallTokens("secret-one")
    token = tokens.issue(42)
    assert tokens.verify(42, token)
    assert not tokens.verify(43, token)
    assert not CallTokens("secret-two").verify(42, token)
    assert not tokens.verify(42, "")
