"""The catalogue of lines and words (`core.languages`): every language has every line English
has, with the same placeholders, and every kind of word; adding a language is a module there
and these tests passing."""

from __future__ import annotations

from dataclasses import fields

import pytest

from carecall.core.languages import (
    DEFAULT_LANGUAGE,
    ENGLISH,
    LANGUAGES,
    Catalogue,
    Understanding,
    UnknownLanguage,
    acknowledgement_words,
    catalogue,
    fold,
    language_code,
    organization_name,
    placeholders,
    screening_words,
    texts_for,
)

OTHERS = [language for code, language in LANGUAGES.items() if code != DEFAULT_LANGUAGE]


def test_english_and_spanish_are_spoken() -> None:
    assert set(LANGUAGES) >= {"en", "es"}
    assert ENGLISH is LANGUAGES["en"]
    assert LANGUAGES["es"].label == "Spanish (es)"


@pytest.mark.parametrize("language", OTHERS, ids=lambda c: c.code)
def test_every_language_has_every_line_with_the_same_placeholders(language: Catalogue) -> None:
    assert set(language.lines) == set(ENGLISH.lines), "lines missing or extra"
    for key, english in ENGLISH.lines.items():
        assert placeholders(language.lines[key]) == placeholders(english), key


@pytest.mark.parametrize("language", list(LANGUAGES.values()), ids=lambda c: c.code)
def test_every_line_has_words_and_formats(language: Catalogue) -> None:
    for key, text in language.lines.items():
        assert text.strip(), key
        values = dict.fromkeys(placeholders(text), "X")
        assert "{" not in language.line(key, **values), key  # no stray braces
    assert language.name and language.native_name and language.say_language
    assert bool(language.model_note) == (language.code != DEFAULT_LANGUAGE)


@pytest.mark.parametrize("language", list(LANGUAGES.values()), ids=lambda c: c.code)
def test_every_kind_of_word_is_listed_and_folded(language: Catalogue) -> None:
    words = language.understanding
    for kind in fields(Understanding):
        value = getattr(words, kind.name)
        if not isinstance(value, tuple):
            continue
        assert value or kind.name in Understanding.OPTIONAL, f"{language.code}: no {kind.name}"
        for item in value:
            # Folded as answers are (no accents, lower case), so that they can match.
            assert item == fold(item), f"{language.code} {kind.name}: {item!r}"
    for item in (*words.numbers, *words.tens, *words.contractions):
        said, _, value = item.partition("=")
        assert said and value, item
    for item in (*words.numbers, *words.tens):
        float(item.partition("=")[2])
    assert words.negation_reach >= 1


def test_language_codes_are_read_as_the_catalogue_s() -> None:
    assert language_code("es") == "es"
    assert language_code(" ES-mx ") == "es"
    assert language_code("es_US") == "es"
    assert language_code("") == "en"
    assert language_code(None) == "en"
    assert language_code("fr") is None
    assert language_code("en gb") is None
    assert catalogue("es-MX") is LANGUAGES["es"]
    with pytest.raises(UnknownLanguage, match=r"es \(Spanish\)"):
        catalogue("fr")
    # Caregivers are texted in English when carecall has no catalogue for the language.
    assert texts_for("fr") is ENGLISH
    assert texts_for("es") is LANGUAGES["es"]


def test_the_default_organization_is_said_in_the_language_a_name_is_kept() -> None:
    assert organization_name("your care team", "es") == "su equipo de cuidados"
    assert organization_name("your care team", "en") == "your care team"
    assert organization_name("Sunny Care", "es") == "Sunny Care"


def test_twilio_says_english_as_ever_and_other_languages_with_their_voice() -> None:
    assert ENGLISH.say_attributes == {}
    assert LANGUAGES["es"].say_attributes == {"language": "es-MX", "voice": "Polly.Mia"}


@pytest.mark.parametrize(
    ("heard", "machine"),
    [
        ("Ha llamado a María. Deje su mensaje después del tono.", True),
        ("Buzón de voz de 555 0100", True),
        ("Al oír la señal, grabe su mensaje", True),
        ("You have reached the voicemail of Mary", True),  # the carrier's English greeting
        ("¿Bueno? ¿Quién habla?", False),
        ("Hola, sí, dígame", False),
        ("No está disponible", False),  # could be someone who answered
    ],
)
def test_a_spanish_call_knows_machines_in_spanish_and_english(heard: str, machine: bool) -> None:
    machine_words, _ = screening_words("es")
    assert bool(machine_words.search(heard)) is machine


@pytest.mark.parametrize(
    ("heard", "screener"),
    [
        ("Diga su nombre y el motivo de su llamada", True),
        ("Permanezca en la línea, por favor", True),
        ("Please say your name and why you're calling", True),
        ("Sí, soy yo", False),
    ],
)
def test_a_spanish_call_knows_call_screeners(heard: str, screener: bool) -> None:
    _, screener_words = screening_words("es")
    assert bool(screener_words.search(heard)) is screener


def test_an_english_call_reads_english_words_only() -> None:
    machine_words, _ = screening_words("en")
    assert machine_words is ENGLISH.machine_words
    assert not machine_words.search("Deje su mensaje después del tono")


def test_caregivers_acknowledge_in_any_language() -> None:
    words, phrases = acknowledgement_words()
    assert {"ok", "yes", "si", "vale"} <= words
    assert {"got it", "de acuerdo"} <= phrases
