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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from carecall.core.dialogue import CallEnd, Reply
from carecall.core.end_reasons import OPT_OUT_REASON


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

    def opening(
        self, *, bot_name: str, organization_name: str, name: str | None = None
    ) -> list[str]:
        """How a call opens, one sentence each: the greeting (by ``name`` when the person is
        known), then the first question."""
        names = {"bot_name": bot_name, "organization_name": organization_name, "name": name}
        greeting = self.greeting if name is None else self.personal_greeting
        return [line.format(**names) for line in greeting] + [self.questions[0].text]


DEFAULT_SCRIPT = CheckinScript(
    greeting=(
        "Hello!",
        "This is {bot_name}, an automated assistant calling on behalf of {organization_name} "
        "for your daily check-in.",
    ),
    personal_greeting=(
        "Hello {name}!",
        "This is {bot_name}, an automated assistant calling on behalf of {organization_name} "
        "for your daily check-in.",
    ),
    questions=(
        Question(
            "feeling",
            "How are you today?",
            "how they are feeling today",
            AnswerKind.WELLBEING,
            {
                "good": "I'm glad to hear that.",
                "okay": "Thank you for telling me.",
                "bad": "I'm sorry to hear that.",
            },
        ),
        Question(
            "sleep",
            "About how many hours did you sleep last night?",
            "how they slept last night, and for about how many hours",
            AnswerKind.NUMBER,
            {
                "number": "That sounds like a good night's rest.",
                "low": "That's not very much. I hope you can rest a little today.",
            },
            low_below=5,
        ),
        Question(
            "meals",
            "Have you had something to eat today?",
            "whether they have eaten today",
            AnswerKind.YES_NO,
            {
                "yes": "Good, I'm glad you've eaten.",
                "no": "Please try to have something to eat soon.",
            },
        ),
        Question(
            "medication",
            "Have you taken your medicines today?",
            "whether they have taken their medicines today",
            AnswerKind.YES_NO,
            {
                "yes": "Good, thank you.",
                "no": "Please remember to take them the way your doctor told you.",
            },
        ),
        Question(
            "pain",
            "Are you in any pain today?",
            "whether anything hurts or is causing them pain",
            AnswerKind.YES_NO,
            {
                "yes": "I'm sorry to hear that. If it gets worse, please call your doctor.",
                "no": "I'm glad to hear that.",
            },
            also_means=dict.fromkeys(
                ("hurts", "hurting", "sore", "aches", "aching", "ache", "painful", "pain"), "yes"
            )
            | {"fine": "no"},
        ),
        Question(
            "needs",
            "Is there anything you need, or anything you'd like your care team to know?",
            "whether they need anything, or want their care team to know something",
            AnswerKind.FREE_TEXT,
            {"nothing": "All right.", "something": "Thank you. I'll make a note of that."},
        ),
    ),
    goodbye="Thank you for talking with me today. Goodbye, and take care!",
    opt_out_goodbye="I understand. I'll make sure we don't call you again. Take care, goodbye.",
    not_understood="I'm sorry, I didn't quite catch that.",
    moving_on="That's all right.",
)


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


_CONTRACTIONS = {
    ("do", "not"): "don't",
    ("does", "not"): "doesn't",
    ("did", "not"): "didn't",
    ("have", "not"): "haven't",
    ("has", "not"): "hasn't",
    ("is", "not"): "isn't",
    ("was", "not"): "wasn't",
    ("are", "not"): "aren't",
    ("can", "not"): "can't",
    ("will", "not"): "won't",
}


def words_of(text: str) -> list[str]:
    """Lower-case words and numbers, contractions joined ("do not" → "don't")."""
    text = text.lower().replace("’", "'").replace("-", " ").replace("cannot", "can not")
    tokens = [t.strip("'") for t in re.findall(r"\d+(?:\.\d+)?|[a-z']+", text)]
    words: list[str] = []
    for token in filter(None, tokens):
        if words and (words[-1], token) in _CONTRACTIONS:
            words[-1] = _CONTRACTIONS[(words[-1], token)]
        else:
            words.append(token)
    return words


def _find(words: list[str], phrase: str) -> list[int]:
    """Where the phrase's words start in ``words``."""
    p = phrase.split()
    return [i for i in range(len(words) - len(p) + 1) if words[i : i + len(p)] == p]


_NEGATORS = {
    "no", "not", "never", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "ain't",
    "haven't", "hasn't", "can't", "won't", "couldn't",
}  # fmt: skip
_GOOD = {
    "good", "great", "fine", "well", "wonderful", "lovely", "excellent", "fantastic", "grand",
    "marvellous", "marvelous", "super", "better", "happy", "brilliant", "splendid", "perfect",
    "terrific",
}  # fmt: skip
_OKAY = {"okay", "ok", "alright", "fair", "average", "middling"}
_BAD = {
    "bad", "terrible", "awful", "poorly", "sick", "ill", "unwell", "rough", "horrible", "sad",
    "lonely", "tired", "dreadful", "miserable", "worse", "low", "weak", "dizzy", "rotten",
}  # fmt: skip
_WELLBEING_WORDS = (
    dict.fromkeys(_GOOD, "good") | dict.fromkeys(_OKAY, "okay") | dict.fromkeys(_BAD, "bad")
)
_WELLBEING_PHRASES = {
    "could be worse": "okay", "so so": "okay", "all right": "okay", "not bad": "okay",
    "not too bad": "okay", "not so bad": "okay", "same as usual": "okay",
    "same as always": "okay", "getting by": "okay", "up and down": "okay",
    "can't complain": "good", "mustn't grumble": "good",
}  # fmt: skip


def parse_wellbeing(text: str) -> str | None:
    """How the caller is: good ("fine"), okay ("so-so"), bad ("not great") or None."""
    words = words_of(text)
    if len(words) > 1 and words[0] == "well":
        words = words[1:]  # "Well, ..." opens a sentence; it says nothing about wellbeing
    found: set[str] = set()
    used: set[int] = set()
    for phrase, label in _WELLBEING_PHRASES.items():
        for start in _find(words, phrase):
            found.add(label)
            used.update(range(start, start + len(phrase.split())))
    for i, word in enumerate(words):
        if i in used:
            continue
        said = _WELLBEING_WORDS.get(word)
        if said is None:
            continue
        if _NEGATORS.intersection(words[max(0, i - 3) : i]):  # "not very well", "don't feel good"
            said = "okay" if said == "bad" else "bad"
        found.add(said)
    if "bad" in found:
        return "okay" if "good" in found else "bad"
    if "okay" in found:
        return "okay"
    return "good" if found else None


_YES = {
    "yes", "yeah", "yep", "yup", "yea", "ya", "aye", "sure", "certainly", "definitely",
    "absolutely", "indeed", "correct", "mhm", "already",
}  # fmt: skip
_YES_PHRASES = (
    "i have", "i've", "i did", "i do", "i had", "i ate", "i took", "think so", "a little", "a bit",
    "of course", "uh huh",
)  # fmt: skip
_NO = _NEGATORS | {"nope", "nah", "none", "nothing", "nay"}
_UNSURE = ("don't know", "not sure", "can't remember", "don't remember", "i forget")


def parse_yes_no(text: str, also_means: Mapping[str, str] | None = None) -> str | None:
    """Yes or no, by the first word that says which ("yeah", "nope", "not really", "I have",
    "I haven't", "I did not"), or None ("I'm not sure", no such word)."""
    words = words_of(text)
    also_means = also_means or {}
    skip: set[int] = set()
    for phrase in _UNSURE:
        for start in _find(words, phrase):
            skip.update(range(start, start + len(phrase.split())))
    said: list[tuple[int, str]] = []
    for phrase in _YES_PHRASES:
        for start in _find(words, phrase):
            after = start + len(phrase.split())
            if start not in skip and not (after < len(words) and words[after] in _NO):
                said.append((start, "yes"))  # "I have", not "I have not", "I had nothing"
    for i, word in enumerate(words):
        if i in skip:
            continue
        if word in also_means:
            said.append((i, also_means[word]))
        elif word in _YES:
            said.append((i, "yes"))
        elif word in _NO:
            said.append((i, "no"))
    return min(said)[1] if said else None


_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_UNITS = {w: n for n, w in enumerate(_UNIT_WORDS.split())}
_TENS = {w: 10 * n for n, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty"), 2)}


def parse_number(text: str) -> float | None:
    """The first number said, in digits or words: "7", "seven", "about six hours" → 6,
    "twenty-four" → 24, "seven and a half" → 7.5."""
    words = [*words_of(text), ""]  # "" ends the words: no bounds checks below
    for i, word in enumerate(words):
        if re.fullmatch(r"\d+(?:\.\d+)?", word):
            number, end = float(word), i + 1
        elif word in _TENS:
            number, end = float(_TENS[word]), i + 1
            if words[end] in _UNITS and 0 < _UNITS[words[end]] < 10:
                number, end = number + _UNITS[words[end]], end + 1
        elif word in _UNITS:
            number, end = float(_UNITS[word]), i + 1
        else:
            continue
        if words[end : end + 3] == ["and", "a", "half"]:
            number += 0.5
        return number
    return None


_NOTHING_WORDS = {
    "no", "nothing", "not", "really", "thanks", "thank", "you", "i'm", "i", "am", "fine", "ok",
    "okay", "that's", "all", "dear", "at", "nope", "don't", "think", "so", "need", "anything",
    "right", "now", "today", "good",
}  # fmt: skip
"""Words of an answer that says there is nothing: "No, thank you, I'm fine"."""


def parse_answer(text: str, question: Question) -> Answer | None:
    """The caller's answer to ``question``, or None if it wasn't understood."""
    words = text.strip()
    if question.kind is AnswerKind.WELLBEING:
        label = parse_wellbeing(words)
        return Answer(label, label, words) if label else None
    if question.kind is AnswerKind.YES_NO:
        label = parse_yes_no(words, question.also_means)
        return Answer(label, label, words) if label else None
    if question.kind is AnswerKind.NUMBER:
        number = parse_number(words)
        if number is None:
            return None
        low = question.low_below is not None and number < question.low_below
        return Answer("low" if low else "number", number, words)
    if not words_of(words):
        return None
    if parse_yes_no(words) != "yes" and set(words_of(words)) <= _NOTHING_WORDS:
        return Answer("nothing", "nothing", words)
    return Answer("something", words, words)


class Intent(Enum):
    REPEAT = "repeat"
    GOODBYE = "goodbye"
    OPT_OUT = "opt out"


_REPEAT_PHRASES = (
    "say that again", "say it again", "say again", "repeat that", "repeat it", "repeat the",
    "repeat yourself", "come again", "pardon", "didn't hear", "didn't catch", "couldn't hear",
    "can't hear", "what was that", "what did you say", "what's that", "one more time",
)  # fmt: skip
_REPEAT_ALONE = {"what", "sorry", "huh", "eh", "excuse", "me", "again", "please", "i'm", "say"}
_OPT_OUT_PHRASES = (
    "stop calling", "stop ringing", "stop phoning", "don't call me", "don't call again",
    "don't ring me", "don't phone me", "never call me", "no more calls", "don't want these calls",
    "don't want any more calls", "don't want your calls", "don't want to be called",
    "take me off", "remove me", "unsubscribe",
)  # fmt: skip
_LEAVING_PHRASES = (
    "have to go", "got to go", "gotta go", "need to go", "must go", "better go", "should go",
    "have to hang up", "let you go", "talk to you later", "talk later",
)  # fmt: skip
_LEAVING_ENDS = {"now", "sorry", "dear", "love", "bye", "goodbye", "then", "soon"}


def caller_intent(text: str) -> Intent | None:
    """What the caller wants besides answering: hear it again, end the call, or never be called
    again ("stop calling me" and "don't call me again"; not "don't stop calling")."""
    words = words_of(text)
    for phrase in _OPT_OUT_PHRASES:
        for start in _find(words, phrase):
            if not (
                phrase.startswith("stop")
                and _NEGATORS.intersection(words[max(0, start - 2) : start])
            ):
                return Intent.OPT_OUT
    for i, word in enumerate(words):
        # "Okay, bye now" or "Thank you, goodbye", not "I said goodbye to my daughter".
        near_an_end = i < 3 or i >= len(words) - 3
        reported = i > 0 and words[i - 1] in ("said", "say", "says", "saying")
        if word in ("bye", "goodbye") and near_an_end and not reported:
            return Intent.GOODBYE
    for phrase in _LEAVING_PHRASES:
        for start in _find(words, phrase):
            after = start + len(phrase.split())
            if after == len(words) or words[after] in _LEAVING_ENDS:
                return Intent.GOODBYE
    if any(_find(words, phrase) for phrase in _REPEAT_PHRASES):
        return Intent.REPEAT
    if words and set(words) <= _REPEAT_ALONE and set(words) & {"what", "sorry", "huh", "eh"}:
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
        intent = caller_intent(words)
        if intent is Intent.OPT_OUT:
            self.opted_out = True
            return self._end(CallEnd(self.plan.opt_out_goodbye, OPT_OUT_REASON, opted_out=True))
        if intent is Intent.GOODBYE:
            return self._end(CallEnd(self.plan.goodbye, "caller said goodbye"))
        if intent is Intent.REPEAT:
            return Reply((question.text,))
        answer = parse_answer(words, question)
        if answer is None and not self._asked_again:
            self._asked_again = True
            return Reply((self.plan.not_understood, question.text))
        if answer is None:
            reaction = self.plan.moving_on
        else:
            self.answers[question.key] = answer
            reaction = question.reactions.get(answer.label, "Thank you.")
        self._index += 1
        self._asked_again = False
        if self._index == len(self.plan.questions):
            return self._end(CallEnd(self.plan.goodbye, "check-in complete"), reaction)
        return Reply((reaction, self.plan.questions[self._index].text))

    def _end(self, end: CallEnd, *sentences: str) -> Reply:
        self._over = True
        return Reply(sentences, end)
