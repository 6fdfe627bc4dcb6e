"""The check-in plan as data, and how short spoken answers are understood."""

from __future__ import annotations

import dataclasses

import pytest

from carecall.bot.checkin import (
    DEFAULT_SCRIPT,
    LABELS,
    AnswerKind,
    CheckinDialogue,
    Intent,
    Question,
    caller_intent,
    parse_answer,
    parse_number,
    parse_wellbeing,
    parse_yes_no,
    script_for_prompt,
    words_of,
)

QUESTIONS = {q.key: q for q in DEFAULT_SCRIPT.questions}


def test_the_default_plan_asks_the_check_in_questions_in_order() -> None:
    assert list(QUESTIONS) == ["feeling", "sleep", "meals", "medication", "pain", "needs"]
    assert [q.kind for q in DEFAULT_SCRIPT.questions] == [
        AnswerKind.WELLBEING,
        AnswerKind.NUMBER,
        AnswerKind.YES_NO,
        AnswerKind.YES_NO,
        AnswerKind.YES_NO,
        AnswerKind.FREE_TEXT,
    ]
    assert all(q.text.endswith("?") for q in DEFAULT_SCRIPT.questions)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_SCRIPT.goodbye = "Bye."  # type: ignore[misc]


@pytest.mark.parametrize("question", DEFAULT_SCRIPT.questions, ids=lambda q: q.key)
def test_every_answer_a_question_can_get_has_a_reaction(question: Question) -> None:
    labels = set(LABELS[question.kind])
    if question.kind is AnswerKind.NUMBER and question.low_below is None:
        labels.discard("low")
    assert set(question.reactions) == labels
    assert all(r.strip() for r in question.reactions.values())


def test_the_opening_greets_then_asks_the_first_question() -> None:
    opening = DEFAULT_SCRIPT.opening(bot_name="Sunny", organization_name="Acme Care")
    assert opening == [
        "Hello!",
        "This is Sunny, an automated assistant calling on behalf of Acme Care for your daily "
        "check-in.",
        "How are you today?",
    ]


def test_the_plan_for_the_prompt_names_every_question_in_order() -> None:
    text = script_for_prompt(DEFAULT_SCRIPT)
    positions = [text.index(q.text) for q in DEFAULT_SCRIPT.questions]
    assert positions == sorted(positions)
    for i, question in enumerate(DEFAULT_SCRIPT.questions, 1):
        assert f"{i}. {question.topic.capitalize()}" in text


@pytest.mark.parametrize(
    ("words", "label"),
    [
        ("I'm fine, thank you", "good"),
        ("Pretty good!", "good"),
        ("Very well.", "good"),
        ("Can't complain.", "good"),
        ("Well, I'm okay", "okay"),
        ("So-so", "okay"),
        ("Not too bad", "okay"),
        ("Could be worse.", "okay"),
        ("Fine, but tired", "okay"),
        ("Not great", "bad"),
        ("Terrible.", "bad"),
        ("I do not feel well", "bad"),
        ("Not so good today", "bad"),
        ("Feeling a bit low.", "bad"),
        ("Purple", None),
        ("", None),
    ],
)
def test_wellbeing(words: str, label: str | None) -> None:
    assert parse_wellbeing(words) == label


@pytest.mark.parametrize(
    ("words", "label"),
    [
        ("Yes", "yes"),
        ("Yeah.", "yes"),
        ("Yep, I did", "yes"),
        ("I have, thank you", "yes"),
        ("I think so", "yes"),
        ("Of course", "yes"),
        ("Uh-huh", "yes"),
        ("A little", "yes"),
        ("No", "no"),
        ("Nope.", "no"),
        ("Nah", "no"),
        ("Not really", "no"),
        ("Not yet.", "no"),
        ("I haven't", "no"),
        ("I did not", "no"),
        ("I have not, no", "no"),
        ("I don't think so", "no"),
        ("I had nothing", "no"),
        ("I don't know", None),
        ("I'm not sure", None),
        ("Purple elephants", None),
    ],
)
def test_yes_no(words: str, label: str | None) -> None:
    assert parse_yes_no(words) == label


def test_a_question_can_teach_the_parser_its_own_words() -> None:
    pain = QUESTIONS["pain"]
    assert parse_yes_no("My back is sore") is None
    assert parse_yes_no("My back is sore", pain.also_means) == "yes"
    assert parse_yes_no("No pain at all", pain.also_means) == "no"
    assert parse_yes_no("I'm fine", pain.also_means) == "no"


@pytest.mark.parametrize(
    ("words", "number"),
    [
        ("seven", 7),
        ("7", 7),
        ("About six hours.", 6),
        ("Maybe 6 or 7", 6),
        ("seven and a half", 7.5),
        ("twenty-four", 24),
        ("Twenty", 20),
        ("7.5 hours", 7.5),
        ("zero", 0),
        ("Not many", None),
        ("", None),
    ],
)
def test_numbers(words: str, number: float | None) -> None:
    assert parse_number(words) == number


@pytest.mark.parametrize(
    ("key", "words", "label", "value"),
    [
        ("feeling", "Terrible", "bad", "bad"),
        ("sleep", "about eight hours", "number", 8),
        ("sleep", "four", "low", 4),
        ("meals", "yeah", "yes", "yes"),
        ("pain", "it aches", "yes", "yes"),
        ("needs", "No thanks, I'm fine", "nothing", "nothing"),
        ("needs", "Nothing", "nothing", "nothing"),
        ("needs", "My glasses are broken", "something", "My glasses are broken"),
    ],
)
def test_answers_to_plan_questions(key: str, words: str, label: str, value: object) -> None:
    answer = parse_answer(words, QUESTIONS[key])
    assert answer is not None
    assert (answer.label, answer.value, answer.words) == (label, value, words)


@pytest.mark.parametrize(
    ("key", "words"), [("feeling", "banana"), ("sleep", "badly"), ("meals", "hmm"), ("needs", "")]
)
def test_answers_not_understood(key: str, words: str) -> None:
    assert parse_answer(words, QUESTIONS[key]) is None


@pytest.mark.parametrize(
    ("words", "intent"),
    [
        ("Say that again?", Intent.REPEAT),
        ("Pardon?", Intent.REPEAT),
        ("What?", Intent.REPEAT),
        ("Sorry?", Intent.REPEAT),
        ("I can't hear you", Intent.REPEAT),
        ("Could you repeat the question", Intent.REPEAT),
        ("Goodbye", Intent.GOODBYE),
        ("Bye-bye, dear", Intent.GOODBYE),
        ("Okay then, bye for now", Intent.GOODBYE),
        ("I have to go", Intent.GOODBYE),
        ("I've got to go now, my son is here", Intent.GOODBYE),
        ("Stop calling me", Intent.OPT_OUT),
        ("Please don't call me again.", Intent.OPT_OUT),
        ("Do not call me any more", Intent.OPT_OUT),
        ("I don't want these calls", Intent.OPT_OUT),
        ("Stop calling me, goodbye", Intent.OPT_OUT),
        ("I'm fine", None),
        ("What a lovely day", None),
        ("I have to go to the doctor on Tuesday", None),
        ("I said goodbye to my daughter this morning", None),
        ("Please don't stop calling, I like it", None),
    ],
)
def test_intents(words: str, intent: Intent | None) -> None:
    assert caller_intent(words) == intent


def test_words_join_contractions_and_split_hyphens() -> None:
    assert words_of("I did NOT – uh-huh, can’t, cannot!") == [
        "i",
        "didn't",
        "uh",
        "huh",
        "can't",
        "can't",
    ]


def test_the_dialogue_says_nothing_once_the_check_in_is_over() -> None:
    dialogue = CheckinDialogue(DEFAULT_SCRIPT)
    ending = dialogue.reply("bye")
    assert ending.end is not None
    assert dialogue.question is None
    assert dialogue.reply("hello?").sentences == ()
    assert dialogue.reply("hello?").end is None


def test_after_something_urgent_the_next_reply_is_the_advice_and_the_question_waits() -> None:
    dialogue = CheckinDialogue(DEFAULT_SCRIPT)
    first = dialogue.question
    assert first is not None
    dialogue.concern("Please call 911 now. Would you like me to end the call so you can?")
    reply = dialogue.reply("I fell and I can't get up")
    assert reply.sentences == (
        "Please call 911 now. Would you like me to end the call so you can?",
    )
    assert reply.end is None and dialogue.question is first
    assert dialogue.reply("I'm fine now, thank you").sentences[-1] != first.text


def test_one_line_with_two_red_flags_gets_each_advice_once_and_no_not_understood() -> None:
    dialogue = CheckinDialogue(DEFAULT_SCRIPT)
    dialogue.concern("Please call 911 now.")
    dialogue.concern("You can call or text 988.")
    dialogue.concern("Please call 911 now.")  # a second category with the same advice
    reply = dialogue.reply("I fell and I want to end it all")
    assert reply.sentences == ("Please call 911 now.", "You can call or text 988.")
    assert DEFAULT_SCRIPT.not_understood not in " ".join(reply.sentences)
    assert dialogue.reply("I called them").sentences[0] != "Please call 911 now."
