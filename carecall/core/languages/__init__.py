"""What carecall says and texts, and the words it understands, in each language it speaks.

One module per language (`en`, `es`), each a reviewed table:

* ``LINES``: every fixed line, by key: what the person hears (the greeting, the guided
  check-in, the fallback line, the hold cue, the idle prompts, the goodbyes, the voicemail
  message, the care advice after a red flag) and what their caregivers are texted or told on a
  notice call (red-flag and trend alerts, escalation notices, the replies to their texts).
  ``{placeholders}`` are filled in by the code that says the line (`Catalogue.line`).
* ``UNDERSTANDING``: the words the guided check-in understands short spoken answers by (yes,
  no, good, bad, numbers, "say that again", "goodbye", "stop calling me") and the words a
  caregiver's text reply acknowledges with (`Understanding`).
* ``MACHINE_WORDS`` and ``SCREENER_WORDS``: what an answering machine's greeting or a
  call-screening assistant says in that language (regular expressions).
* How Twilio's own voice says a line of it (``SAY_LANGUAGE``, ``SAY_VOICE``: notice calls and
  the words said while a call is put through), and ``MODEL_NOTE``: what the model is told
  about speaking it (its instructions stay in English).

English is the reference. Every language has every line English has, with the same
placeholders, and every kind of word (`tests/core/test_languages.py`), so adding a language is
a module here, its line in `_MODULES`, and that test passing. Which languages a server's calls
can speak also depends on its speech services: OpenAI's speak all of these; the local models
are English only (`bot.services.CallLanguages`).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from types import ModuleType

from carecall.core.languages import en, es
from carecall.core.languages.words import Understanding

DEFAULT_LANGUAGE = "en"
_MODULES: tuple[ModuleType, ...] = (en, es)


class UnknownLanguage(ValueError):
    """A language code carecall has no catalogue for; the message lists the ones it has."""

    def __init__(self, code: str) -> None:
        self.code = code
        known = ", ".join(f"{c.code} ({c.name})" for c in LANGUAGES.values())
        super().__init__(f"carecall doesn't speak the language '{code[:16]}'. Use one of: {known}.")


@dataclass(frozen=True)
class Catalogue:
    """One language's lines and words (see the module's docstring)."""

    code: str
    name: str
    """Its English name: "Spanish"."""
    native_name: str
    """Its own name, for people who speak it: "Español"."""
    lines: Mapping[str, str]
    understanding: Understanding
    machine_words: re.Pattern[str]
    screener_words: re.Pattern[str]
    say_language: str
    say_voice: str | None
    model_note: str
    """Told to the model when the call is in this language ("" for English)."""

    def line(self, key: str, **values: object) -> str:
        """The line ``key`` with its placeholders filled in (a missing value is a KeyError)."""
        return self.lines[key].format(**values)

    @property
    def label(self) -> str:
        """How the dashboard and the errors name it: "Spanish (es)"."""
        return f"{self.name} ({self.code})"

    @property
    def say_attributes(self) -> dict[str, str]:
        """The attributes of a Twilio `<Say>` of its lines: none for English (Twilio's
        default), else its language and voice."""
        if self.code == DEFAULT_LANGUAGE:
            return {}
        voice = {"voice": self.say_voice} if self.say_voice else {}
        return {"language": self.say_language, **voice}


def _catalogue(module: ModuleType) -> Catalogue:
    return Catalogue(
        code=module.CODE,
        name=module.NAME,
        native_name=module.NATIVE_NAME,
        lines=dict(module.LINES),
        understanding=module.UNDERSTANDING,
        machine_words=re.compile(module.MACHINE_WORDS, re.IGNORECASE),
        screener_words=re.compile(module.SCREENER_WORDS, re.IGNORECASE),
        say_language=module.SAY_LANGUAGE,
        say_voice=module.SAY_VOICE,
        model_note=module.MODEL_NOTE,
    )


LANGUAGES: Mapping[str, Catalogue] = {module.CODE: _catalogue(module) for module in _MODULES}
"""Every language carecall has lines for, by code."""
ENGLISH = LANGUAGES[DEFAULT_LANGUAGE]


def language_code(text: str | None) -> str | None:
    """The catalogue's code for ``text`` ("es", "ES", "es-MX", "es_us" → "es"), or None when
    carecall has no catalogue for it. Empty means English, the default."""
    code = (text or DEFAULT_LANGUAGE).strip().lower().replace("_", "-")
    base = code.split("-", 1)[0]
    return base if base in LANGUAGES else None


def texts_for(code: str | None) -> Catalogue:
    """The catalogue to text or tell a person's caregivers in: their language's, or English
    when carecall has none for it (a text that goes out beats one that doesn't)."""
    found = language_code(code)
    return LANGUAGES[found] if found is not None else ENGLISH


def organization_name(name: str, language: str | None = DEFAULT_LANGUAGE) -> str:
    """On whose behalf calls are made and texts are sent, in ``language``: ORGANIZATION_NAME,
    unless it is the default ("your care team"), a phrase rather than a name, which is said in
    the language."""
    if name == ENGLISH.lines["organization.default"]:
        return texts_for(language).line("organization.default")
    return name


def catalogue(code: str | None) -> Catalogue:
    """The catalogue for ``code`` (as `language_code` reads it); `UnknownLanguage` if none."""
    found = language_code(code)
    if found is None:
        raise UnknownLanguage(code or "")
    return LANGUAGES[found]


@cache
def screening_words(language: str | None) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """What gives away an answering machine, and a call screener, on a call in ``language``:
    its words or English ones (a carrier's voicemail greeting or a phone's screening assistant
    may well be in English whatever the person speaks)."""
    own = catalogue(language)
    if own is ENGLISH:
        return ENGLISH.machine_words, ENGLISH.screener_words
    return (
        re.compile(f"{own.machine_words.pattern}|{ENGLISH.machine_words.pattern}", re.IGNORECASE),
        re.compile(f"{own.screener_words.pattern}|{ENGLISH.screener_words.pattern}", re.IGNORECASE),
    )


def placeholders(text: str) -> frozenset[str]:
    """The ``{names}`` a line has."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


def fold(text: str) -> str:
    """Lower case without accents ("Sí, ADIÓS" → "si, adios"): how answers are matched."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def understanding_kinds() -> tuple[str, ...]:
    """The names of `Understanding`'s word lists."""
    return tuple(f.name for f in fields(Understanding))


@cache
def acknowledgement_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words and phrases a caregiver's text reply acknowledges with, in any language (they
    may reply in theirs whatever the person's is)."""
    words: set[str] = set()
    phrases: set[str] = set()
    for language in LANGUAGES.values():
        words.update(fold(w) for w in language.understanding.acknowledgements)
        phrases.update(fold(p) for p in language.understanding.acknowledgement_phrases)
    return frozenset(words), frozenset(phrases)
