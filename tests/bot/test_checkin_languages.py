"""The guided check-in in another language than English (Spanish): the same plan, asked and
answered in the person's words (`bot.checkin.script_for`, `core.languages`)."""

from __future__ import annotations

import pytest

from carecall.bot.checkin import (
    DEFAULT_SCRIPT,
    LABELS,
    AnswerKind,
    CheckinDialogue,
    Intent,
    caller_intent,
    parse_answer,
    parse_number,
    parse_wellbeing,
    parse_yes_no,
    script_for,
    script_for_prompt,
    words_of,
)
from carecall.core.languages import LANGUAGES, UnknownLanguage

SPANISH = script_for("es")
QUESTIONS = {q.key: q for q in SPANISH.questions}


@pytest.mark.parametrize("language", list(LANGUAGES), ids=str)
def test_every_language_asks_the_same_plan(language: str) -> None:
    script = script_for(language)
    assert script.language == language
    assert [(q.key, q.kind, q.topic, q.low_below) for q in script.questions] == [
        (q.key, q.kind, q.topic, q.low_below) for q in DEFAULT_SCRIPT.questions
    ]
    for question in script.questions:
        labels = set(LABELS[question.kind])
        if question.kind is AnswerKind.NUMBER and question.low_below is None:
            labels.discard("low")
        assert set(question.reactions) == labels
        assert question.text.endswith("?")


def test_english_is_the_default_script_and_unknown_languages_have_none() -> None:
    assert script_for("en") is DEFAULT_SCRIPT
    with pytest.raises(UnknownLanguage):
        script_for("fr")


def test_the_spanish_opening_greets_by_name_in_spanish_then_asks_how_they_are() -> None:
    opening = SPANISH.opening(bot_name="Sunny", organization_name="su hija Susana", name="Molly")
    assert opening == [
        "¡Hola, Molly!",
        "Soy Sunny, un asistente automático que le llama de parte de su hija Susana para saber "
        "cómo está hoy.",
        "¿Cómo se encuentra hoy?",
    ]


def test_the_prompt_plan_quotes_the_spanish_questions() -> None:
    text = script_for_prompt(SPANISH)
    assert '("¿Cómo se encuentra hoy?")' in text
    assert "How they slept last night" in text  # the topics stay in the model's language


def test_spanish_words_lose_their_accents_and_punctuation() -> None:
    assert words_of("¡Sí, ADIÓS! ¿Dormí seis horas?", "es") == [
        "si",
        "adios",
        "dormi",
        "seis",
        "horas",
    ]


@pytest.mark.parametrize(
    ("words", "label"),
    [
        ("Bien, gracias", "good"),
        ("Muy bien, gracias a Dios", "good"),
        ("Estupenda", "good"),
        ("No me puedo quejar", "good"),
        ("Más o menos", "okay"),
        ("Regular", "okay"),
        ("No estoy mal", "okay"),
        ("Pues, ahí vamos", "okay"),
        ("Mal", "bad"),
        ("No muy bien", "bad"),
        ("Pues no me siento muy bien", "bad"),
        ("Bueno, estoy cansada", "bad"),
        ("Bueno", "good"),
        ("Fatal, la verdad", "bad"),
        ("Plátano", None),
    ],
)
def test_spanish_wellbeing(words: str, label: str | None) -> None:
    assert parse_wellbeing(words, "es") == label


@pytest.mark.parametrize(
    ("words", "label"),
    [
        ("Sí", "yes"),
        ("Si, ya comí", "yes"),
        ("Claro que sí", "yes"),
        ("Ya me las tomé", "yes"),
        ("Un poquito", "yes"),
        ("No", "no"),
        ("No, todavía no", "no"),
        ("Nada", "no"),
        ("No he comido nada", "no"),
        ("No sé", None),
        ("No me acuerdo", None),
    ],
)
def test_spanish_yes_and_no(words: str, label: str | None) -> None:
    assert parse_yes_no(words, language="es") == label


def test_spanish_pain_words_answer_the_pain_question() -> None:
    pain = QUESTIONS["pain"]
    assert parse_yes_no("Me duele la rodilla", pain.also_means, "es") == "yes"
    assert parse_yes_no("No tengo dolor", pain.also_means, "es") == "no"
    assert parse_yes_no("Estoy bien", pain.also_means, "es") == "no"


@pytest.mark.parametrize(
    ("words", "number"),
    [
        ("seis", 6),
        ("Unas siete horas", 7),
        ("seis y media", 6.5),
        ("Dormí seis horas y media", 6.5),
        ("8", 8),
        ("veinticuatro", 24),
        ("treinta y dos", 32),
        ("Pocas", None),
    ],
)
def test_spanish_numbers(words: str, number: float | None) -> None:
    assert parse_number(words, "es") == number


def test_english_numbers_with_a_word_before_the_half() -> None:
    assert parse_number("seven and a half") == 7.5
    assert parse_number("six hours and a half") == 6.5


@pytest.mark.parametrize(
    ("key", "words", "label"),
    [
        ("feeling", "Muy bien", "good"),
        ("sleep", "cuatro", "low"),
        ("sleep", "unas ocho horas", "number"),
        ("meals", "sí", "yes"),
        ("needs", "No, nada, gracias", "nothing"),
        ("needs", "Todo bien, gracias", "nothing"),
        ("needs", "Necesito que me traigan las medicinas", "something"),
    ],
)
def test_answers_to_spanish_questions(key: str, words: str, label: str) -> None:
    answer = parse_answer(words, QUESTIONS[key], "es")
    assert answer is not None and answer.label == label


@pytest.mark.parametrize(
    ("words", "intent"),
    [
        ("¿Cómo?", Intent.REPEAT),
        ("¿Qué?", Intent.REPEAT),
        ("¿Mande?", Intent.REPEAT),
        ("Perdone, ¿me lo puede repetir?", Intent.REPEAT),
        ("No le he oído bien", Intent.REPEAT),
        ("Adiós", Intent.GOODBYE),
        ("Bueno, adiós, mija", Intent.GOODBYE),
        ("Me tengo que ir", Intent.GOODBYE),
        ("Hasta luego", Intent.GOODBYE),
        ("No me llame más", Intent.OPT_OUT),
        ("Por favor, deje de llamarme", Intent.OPT_OUT),
        ("No quiero más llamadas", Intent.OPT_OUT),
        ("Por favor, no deje de llamarme, me gusta", None),
        ("Le dije adiós a mi hija esta mañana", None),
        ("Estoy bien", None),
    ],
)
def test_spanish_intents(words: str, intent: Intent | None) -> None:
    assert caller_intent(words, "es") == intent


def test_english_words_are_not_spanish_ones() -> None:
    assert caller_intent("Adiós") is None
    assert caller_intent("Goodbye", "es") is None


def test_a_spanish_check_in_walks_the_plan_in_spanish() -> None:
    dialogue = CheckinDialogue(SPANISH)
    said = [
        dialogue.reply("Bien, gracias").sentences,
        dialogue.reply("¿Cómo?").sentences,
        dialogue.reply("Unas siete horas").sentences,
        dialogue.reply("Plátano").sentences,
        dialogue.reply("Sí").sentences,
    ]
    assert said == [
        ("Me alegra mucho oír eso.", "¿Más o menos cuántas horas durmió anoche?"),
        ("¿Más o menos cuántas horas durmió anoche?",),
        ("Parece que descansó bien.", "¿Ha comido algo hoy?"),
        ("Disculpe, no le entendí bien.", "¿Ha comido algo hoy?"),
        ("Muy bien, me alegra que haya comido.", "¿Se ha tomado hoy sus medicinas?"),
    ]
    ending = dialogue.reply("No me llame más, por favor")
    assert ending.end is not None and ending.end.opted_out
    assert ending.end.goodbye == (
        "Lo entiendo. Me aseguraré de que no le volvamos a llamar. Cuídese, adiós."
    )
    assert dialogue.answers["sleep"].value == 7


def test_a_spanish_check_in_ends_with_a_spanish_goodbye() -> None:
    dialogue = CheckinDialogue(SPANISH)
    ending = dialogue.reply("Bueno, adiós")
    assert ending.end is not None
    assert ending.end.goodbye == "Gracias por hablar conmigo hoy. ¡Adiós, y cuídese mucho!"
