"""The guided check-in: what a check-in call covers, as data, and a walk through it without a model.

* `CheckinScript` and `DEFAULT_SCRIPT`: the greeting, the questions in order (each with the kind of
  answer it expects and what to say to each answer) and the goodbyes.
* `script_for_prompt`: the plan as text for the model's system prompt, so a conversation with the
  model covers the same ground in its own words.
* `parse_answer` (and `parse_wellbeing`, `parse_yes_no`, `parse_number`) and `caller_intent`:
  short spoken answers understood by rule ("yeah", "not great", "about six hours", "pardon?",
  "bye", "stop calling me").
* `CheckinDialogue`: asks the plan's questions one by one (`processors.guided_dialogue` runs it
  in the model's place when there is no model) and keeps the answers it understood.

Every language of `core.languages` has the plan in its words (`script_for`: the questions,
reactions and goodbyes) and the words its answers are understood by (`vocabulary`: yes, no,
numbers, "pardon?", "goodbye", "stop calling me"); English is `DEFAULT_SCRIPT`. The parsers take
the language's code (English by default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from functools import cache

from carecall.core.dialogue import CallEnd, Reply
from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.core.languages import DEFAULT_LANGUAGE, Understanding, catalogue, fold


class AnswerKind(StrEnum):
    WELLBEING = "good, okay or bad"
    YES_NO = "yes or no"
    NUMBER = "a number"
    FREE_TEXT = "their own words"


LABELS = {
    AnswerKind.WELLBEING: ("good", "okay", "bad"),
    AnswerKind.YES_NO: ("yes", "no"),
    AnswerKind.NUMBER: ("number", "low"),
    AnswerKind.FREE_TEXT: ("nothing", "something"),
}
"""What an answer of each kind is labelled as (`Answer.label`); reactions are keyed by label."""


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    """Asked word for word by the guided check-in (the model uses its own words)."""
    topic: str
    """What the question is about, for the model: "how they slept last night"."""
    kind: AnswerKind
    reactions: Mapping[str, str]
    """What to say to an answer, by its label, before the next question."""
    low_below: float | None = None
    """NUMBER questions: answers below this are labelled "low"."""
    also_means: Mapping[str, str] = field(default_factory=dict)
    """Words that answer this question though the parser doesn't know them: {"sore": "yes"}."""


@dataclass(frozen=True)
class CheckinScript:
    greeting: tuple[str, ...]
    """Sentences said before the first question; may name {bot_name} and {organization_name}."""
    personal_greeting: tuple[str, ...]
    """The greeting of a call to someone on the roster: may also name {name}, what they like to
    be called; {organization_name} is then on whose behalf the call is made."""
    questions: tuple[Question, ...]
    goodbye: str
    opt_out_goodbye: str
    not_understood: str
    """Said before asking a question again, once, when an answer wasn't understood."""
    moving_on: str
    """Said before the next question when the answer wasn't understood the second time."""
    thanks: str = "Thank you."
    """Said to an answer its question has no reaction for."""
    language: str = DEFAULT_LANGUAGE
    """Whose words the answers are understood by (`core.languages`)."""

    def opening(
        self, *, bot_name: str, organization_name: str, name: str | None = None
    ) -> list[str]:
        """How a call opens, one sentence each: the greeting (by ``name`` when the person is
        known), then the first question."""
        names = {"bot_name": bot_name, "organization_name": organization_name, "name": name}
        greeting = self.greeting if name is None else self.personal_greeting
        return [line.format(**names) for line in greeting] + [self.questions[0].text]


@dataclass(frozen=True)
class _Planned:
    """One question of the plan, whatever the language it is asked in."""

    key: str
    topic: str
    kind: AnswerKind
    low_below: float | None = None
    about_pain: bool = False
    """Its answers may be words of pain ("sore": yes) or of being fine ("fine": no)."""


_PLAN = (
    _Planned("feeling", "how they are feeling today", AnswerKind.WELLBEING),
    _Planned(
        "sleep",
        "how they slept last night, and for about how many hours",
        AnswerKind.NUMBER,
        low_below=5,
    ),
    _Planned("meals", "whether they have eaten today", AnswerKind.YES_NO),
    _Planned("medication", "whether they have taken their medicines today", AnswerKind.YES_NO),
    _Planned(
        "pain", "whether anything hurts or is causing them pain", AnswerKind.YES_NO, about_pain=True
    ),
    _Planned(
        "needs",
        "whether they need anything, or want their care team to know something",
        AnswerKind.FREE_TEXT,
    ),
)
"""What the check-in covers; the words of each question and reaction are the language's
(`core.languages`: ``checkin.<key>`` and ``checkin.<key>.<label>``)."""


@cache
def script_for(language: str = DEFAULT_LANGUAGE) -> CheckinScript:
    """The check-in plan in ``language`` (a code of `core.languages`; `UnknownLanguage` if it
    has no catalogue): the same questions, asked and answered in its words."""
    lines = catalogue(language)
    words = lines.understanding
    return CheckinScript(
        greeting=(lines.lines["greeting.hello"], lines.lines["greeting.intro"]),
        personal_greeting=(lines.lines["greeting.hello_name"], lines.lines["greeting.intro"]),
        questions=tuple(_question(planned, lines.lines, words) for planned in _PLAN),
        goodbye=lines.line("checkin.goodbye"),
        opt_out_goodbye=lines.line("checkin.opt_out_goodbye"),
        not_understood=lines.line("checkin.not_understood"),
        moving_on=lines.line("checkin.moving_on"),
        thanks=lines.line("checkin.thanks"),
        language=lines.code,
    )


def _question(planned: _Planned, lines: Mapping[str, str], words: Understanding) -> Question:
    labels = LABELS[planned.kind]
    if planned.kind is AnswerKind.NUMBER and planned.low_below is None:
        labels = tuple(label for label in labels if label != "low")
    also_means: dict[str, str] = {}
    if planned.about_pain:
        also_means = dict.fromkeys(map(fold, words.hurts), "yes") | dict.fromkeys(
            map(fold, words.no_pain), "no"
        )
    return Question(
        planned.key,
        lines[f"checkin.{planned.key}"],
        planned.topic,
        planned.kind,
        {label: lines[f"checkin.{planned.key}.{label}"] for label in labels},
        low_below=planned.low_below,
        also_means=also_means,
    )


DEFAULT_SCRIPT = script_for(DEFAULT_LANGUAGE)


def script_for_prompt(plan: CheckinScript) -> str:
    """The plan as a paragraph of the system prompt."""
    lines = [
        "What to talk about: the call opens with a greeting that asks the first question below.",
        "Cover these, in this order, one question at a time, in your own words:",
        *(f'{i}. {q.topic.capitalize()} ("{q.text}")' for i, q in enumerate(plan.questions, 1)),
        "Listen, react kindly to what they tell you, and follow their lead if they want to chat.",
        "If they would rather not answer something, move on.",
    ]
    return "\n".join(lines)


# --- understanding short spoken answers -------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    label: str
    """One of `LABELS[kind]`."""
    value: str | float
    """The label, the number, or (free text) the caller's words."""
    words: str


def _phrases(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(fold(item).split()) for item in items))


def _values(items: tuple[str, ...]) -> dict[str, float]:
    pairs = (item.split("=", 1) for item in items)
    return {fold(word).strip(): float(value) for word, value in pairs}


@dataclass(frozen=True)
class Vocabulary:
    """A language's words for answers (`core.languages.Understanding`), folded and ready to
    look words up in."""

    contractions: Mapping[tuple[str, ...], str]
    negators: frozenset[str]
    yes: frozenset[str]
    yes_phrases: tuple[str, ...]
    no: frozenset[str]
    unsure: tuple[str, ...]
    wellbeing_words: Mapping[str, str]
    wellbeing_phrases: Mapping[str, str]
    negation_reach: int
    openers: frozenset[str]
    numbers: Mapping[str, float]
    tens: Mapping[str, float]
    tens_joiners: frozenset[str]
    half: tuple[tuple[str, ...], ...]
    nothing: frozenset[str]
    repeat_phrases: tuple[str, ...]
    repeat_alone: frozenset[str]
    repeat_triggers: frozenset[str]
    opt_out_phrases: tuple[str, ...]
    stop_words: frozenset[str]
    leaving_phrases: tuple[str, ...]
    leaving_ends: frozenset[str]
    goodbyes: frozenset[str]
    reported: frozenset[str]

    @classmethod
    def of(cls, words: Understanding) -> Vocabulary:
        contractions = {}
        for item in words.contractions:
            said, joined = item.split("=", 1)
            contractions[tuple(fold(said).split())] = fold(joined).strip()
        negators = frozenset(_phrases(words.negators))
        return cls(
            contractions=contractions,
            negators=negators,
            yes=frozenset(_phrases(words.yes)),
            yes_phrases=_phrases(words.yes_phrases),
            no=negators | frozenset(_phrases(words.no)),
            unsure=_phrases(words.unsure),
            wellbeing_words=dict.fromkeys(_phrases(words.good), "good")
            | dict.fromkeys(_phrases(words.okay), "okay")
            | dict.fromkeys(_phrases(words.bad), "bad"),
            wellbeing_phrases=dict.fromkeys(_phrases(words.okay_phrases), "okay")
            | dict.fromkeys(_phrases(words.good_phrases), "good"),
            negation_reach=words.negation_reach,
            openers=frozenset(_phrases(words.openers)),
            numbers=_values(words.numbers),
            tens=_values(words.tens),
            tens_joiners=frozenset(_phrases(words.tens_joiners)),
            half=tuple(tuple(phrase.split()) for phrase in _phrases(words.half)),
            nothing=frozenset(_phrases(words.nothing)),
            repeat_phrases=_phrases(words.repeat_phrases),
            repeat_alone=frozenset(_phrases(words.repeat_alone)),
            repeat_triggers=frozenset(_phrases(words.repeat_triggers)),
            opt_out_phrases=_phrases(words.opt_out_phrases),
            stop_words=frozenset(_phrases(words.stop_words)),
            leaving_phrases=_phrases(words.leaving_phrases),
            leaving_ends=frozenset(_phrases(words.leaving_ends)),
            goodbyes=frozenset(_phrases(words.goodbyes)),
            reported=frozenset(_phrases(words.reported)),
        )


@cache
def vocabulary(language: str = DEFAULT_LANGUAGE) -> Vocabulary:
    """The answer words of ``language`` (a code of `core.languages`)."""
    return Vocabulary.of(catalogue(language).understanding)


def words_of(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Lower-case words and numbers without accents, contractions joined ("do not" →
    "don't", "cannot" → "can't")."""
    contractions = vocabulary(language).contractions
    text = fold(text).replace("’", "'").replace("-", " ")
    tokens = [t.strip("'") for t in re.findall(r"\d+(?:\.\d+)?|[a-z']+", text)]
    words: list[str] = []
    for token in filter(None, tokens):
        token = contractions.get((token,), token)
        if words and (words[-1], token) in contractions:
            words[-1] = contractions[(words[-1], token)]
        else:
            words.append(token)
    return words


def _find(words: list[str], phrase: str) -> list[int]:
    """Where the phrase's words start in ``words``."""
    p = phrase.split()
    return [i for i in range(len(words) - len(p) + 1) if words[i : i + len(p)] == p]


def parse_wellbeing(text: str, language: str = DEFAULT_LANGUAGE) -> str | None:
    """How the caller is: good ("fine"), okay ("so-so"), bad ("not great") or None."""
    v = vocabulary(language)
    words = words_of(text, language)
    if len(words) > 1 and words[0] in v.openers:
        words = words[1:]  # "Well, ..." opens a sentence; it says nothing about wellbeing
    found: set[str] = set()
    used: set[int] = set()
    for phrase, label in v.wellbeing_phrases.items():
        for start in _find(words, phrase):
            found.add(label)
            used.update(range(start, start + len(phrase.split())))
    for i, word in enumerate(words):
        if i in used:
            continue
        said = v.wellbeing_words.get(word)
        if said is None:
            continue
        if v.negators.intersection(words[max(0, i - v.negation_reach) : i]):
            said = "okay" if said == "bad" else "bad"  # "not very well", "don't feel good"
        found.add(said)
    if "bad" in found:
        return "okay" if "good" in found else "bad"
    if "okay" in found:
        return "okay"
    return "good" if found else None


def parse_yes_no(
    text: str, also_means: Mapping[str, str] | None = None, language: str = DEFAULT_LANGUAGE
) -> str | None:
    """Yes or no, by the first word that says which ("yeah", "nope", "not really", "I have",
    "I haven't", "I did not"), or None ("I'm not sure", no such word)."""
    v = vocabulary(language)
    words = words_of(text, language)
    also_means = also_means or {}
    skip: set[int] = set()
    for phrase in v.unsure:
        for start in _find(words, phrase):
            skip.update(range(start, start + len(phrase.split())))
    said: list[tuple[int, str]] = []
    for phrase in v.yes_phrases:
        for start in _find(words, phrase):
            after = start + len(phrase.split())
            if start not in skip and not (after < len(words) and words[after] in v.no):
                said.append((start, "yes"))  # "I have", not "I have not", "I had nothing"
    for i, word in enumerate(words):
        if i in skip:
            continue
        if word in also_means:
            said.append((i, also_means[word]))
        elif word in v.yes:
            said.append((i, "yes"))
        elif word in v.no:
            said.append((i, "no"))
    return min(said)[1] if said else None


def parse_number(text: str, language: str = DEFAULT_LANGUAGE) -> float | None:
    """The first number said, in digits or words: "7", "seven", "about six hours" → 6,
    "twenty-four" → 24, "seven and a half" → 7.5, "seis horas y media" → 6.5."""
    v = vocabulary(language)
    words = [*words_of(text, language), "", ""]  # "" ends the words: no bounds checks below
    for i, word in enumerate(words):
        if re.fullmatch(r"\d+(?:\.\d+)?", word):
            number, end = float(word), i + 1
        elif word in v.tens:
            number, end = v.tens[word], i + 1
            unit = end + 1 if words[end] in v.tens_joiners else end
            if 0 < v.numbers.get(words[unit], 0) < 10:
                number, end = number + v.numbers[words[unit]], unit + 1
        elif word in v.numbers:
            number, end = v.numbers[word], i + 1
        else:
            continue
        # "seven and a half", and with one word between: "seis horas y media"
        if any(
            tuple(words[at : at + len(half)]) == half for half in v.half for at in (end, end + 1)
        ):
            number += 0.5
        return number
    return None


def parse_answer(text: str, question: Question, language: str = DEFAULT_LANGUAGE) -> Answer | None:
    """The caller's answer to ``question``, or None if it wasn't understood."""
    words = text.strip()
    if question.kind is AnswerKind.WELLBEING:
        label = parse_wellbeing(words, language)
        return Answer(label, label, words) if label else None
    if question.kind is AnswerKind.YES_NO:
        label = parse_yes_no(words, question.also_means, language)
        return Answer(label, label, words) if label else None
    if question.kind is AnswerKind.NUMBER:
        number = parse_number(words, language)
        if number is None:
            return None
        low = question.low_below is not None and number < question.low_below
        return Answer("low" if low else "number", number, words)
    said = words_of(words, language)
    if not said:
        return None
    if (
        parse_yes_no(words, language=language) != "yes"
        and set(said) <= vocabulary(language).nothing
    ):
        return Answer("nothing", "nothing", words)
    return Answer("something", words, words)


class Intent(Enum):
    REPEAT = "repeat"
    GOODBYE = "goodbye"
    OPT_OUT = "opt out"


def caller_intent(text: str, language: str = DEFAULT_LANGUAGE) -> Intent | None:
    """What the caller wants besides answering: hear it again, end the call, or never be called
    again ("stop calling me" and "don't call me again"; not "don't stop calling")."""
    v = vocabulary(language)
    words = words_of(text, language)
    for phrase in v.opt_out_phrases:
        for start in _find(words, phrase):
            if not (
                phrase.split()[0] in v.stop_words
                and v.negators.intersection(words[max(0, start - 2) : start])
            ):
                return Intent.OPT_OUT
    for i, word in enumerate(words):
        # "Okay, bye now" or "Thank you, goodbye", not "I said goodbye to my daughter".
        near_an_end = i < 3 or i >= len(words) - 3
        reported = i > 0 and words[i - 1] in v.reported
        if word in v.goodbyes and near_an_end and not reported:
            return Intent.GOODBYE
    for phrase in v.leaving_phrases:
        for start in _find(words, phrase):
            after = start + len(phrase.split())
            if after == len(words) or words[after] in v.leaving_ends:
                return Intent.GOODBYE
    if any(_find(words, phrase) for phrase in v.repeat_phrases):
        return Intent.REPEAT
    if words and set(words) <= v.repeat_alone and set(words) & v.repeat_triggers:
        return Intent.REPEAT
    return None


# --- the walk ---------------------------------------------------------------------------------


class CheckinDialogue:
    """Asks a plan's questions one at a time and reacts to each answer.

    The call's opening (`CheckinScript.opening`, spoken by the pipeline when the caller connects)
    asks the first question, so the first caller turn answers it. "Say that again" repeats the
    question; an answer not understood gets the question once more, then the walk moves on.
    "Goodbye", "stop calling me", or the last answer end the call. `answers` holds the answers
    understood, by question key.
    """

    def __init__(self, plan: CheckinScript) -> None:
        self.plan = plan
        self.answers: dict[str, Answer] = {}
        self.opted_out = False
        self._index = 0
        self._asked_again = False
        self._over = False
        self._concerns: list[str] = []

    def concern(self, advice: str) -> None:
        """Something urgent was heard (`wellbeing.red_flags`): the next reply is this advice
        alone (each different advice once, when one line raised several red flags), never a
        "didn't catch that", and the check-in waits; the question after it is the same one."""
        if advice not in self._concerns:
            self._concerns.append(advice)

    @property
    def question(self) -> Question | None:
        """The question the caller is answering; None once the check-in is over."""
        return None if self._over else self.plan.questions[self._index]

    def reply(self, words: str) -> Reply:
        question = self.question
        if question is None:
            return Reply()
        if self._concerns:
            advice, self._concerns = tuple(self._concerns), []
            return Reply(advice)
        language = self.plan.language
        intent = caller_intent(words, language)
        if intent is Intent.OPT_OUT:
            self.opted_out = True
            return self._end(CallEnd(self.plan.opt_out_goodbye, OPT_OUT_REASON, opted_out=True))
        if intent is Intent.GOODBYE:
            return self._end(CallEnd(self.plan.goodbye, "caller said goodbye"))
        if intent is Intent.REPEAT:
            return Reply((question.text,))
        answer = parse_answer(words, question, language)
        if answer is None and not self._asked_again:
            self._asked_again = True
            return Reply((self.plan.not_understood, question.text))
        if answer is None:
            reaction = self.plan.moving_on
        else:
            self.answers[question.key] = answer
            reaction = question.reactions.get(answer.label, self.plan.thanks)
        self._index += 1
        self._asked_again = False
        if self._index == len(self.plan.questions):
            return self._end(CallEnd(self.plan.goodbye, "check-in complete"), reaction)
        return Reply((reaction, self.plan.questions[self._index].text))

    def _end(self, end: CallEnd, *sentences: str) -> Reply:
        self._over = True
        return Reply(sentences, end)
