"""The wellbeing record: what the schema accepts, rejects and normalises, and extraction with the
real `openai` SDK against a fake OpenAI-compatible server."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from openai import AsyncOpenAI

from carecall.persistence.models import CallRecord
from carecall.settings import WELLBEING_MEASURES, parse_thresholds
from carecall.wellbeing.records import (
    LEVEL_WORDS,
    MEASURE_NAMES,
    MEASURES,
    LanguageModelError,
    Measure,
    NothingToRecord,
    RecordInvalid,
    WellbeingRecord,
    extract_record,
    level_words,
    parse_record,
)
from tests.wellbeing.conversations import (
    JOHN,
    JOHN_ANSWER,
    JOHN_LEVELS,
    MARY,
    MARY_ANSWER,
    MARY_LEVELS,
    A,
    Line,
    P,
)
from tests.wellbeing.fake_llm import FakeLLM, running_fake_llm


def answer(**changes: Any) -> str:
    data = copy.deepcopy(MARY_ANSWER)
    data.update(changes)
    return json.dumps(data)


# --- the schema ----------------------------------------------------------------------------------


def test_a_good_answer_is_accepted_as_it_is() -> None:
    record = parse_record(json.dumps(MARY_ANSWER), MARY)

    assert record.levels() == MARY_LEVELS
    assert record.pain.evidence == "my knee was sore most of the night"
    assert record.evidence() == {
        "mood": "I'm quite well",
        "sleep": "Not so well",
        "pain": "my knee was sore most of the night",
        "medication": "I took them with breakfast, like always",
        "social_contact": "My granddaughter Emma visited on Sunday",
    }
    assert record.summary.startswith("Mary was in good spirits")
    assert record.follow_ups == MARY_ANSWER["follow_ups"]
    assert record.unsupported == []


@pytest.mark.parametrize("missing", ["pain", "confusion", "summary"])
def test_an_answer_missing_a_measure_or_the_summary_is_rejected(missing: str) -> None:
    data = copy.deepcopy(MARY_ANSWER)
    del data[missing]

    with pytest.raises(RecordInvalid, match=missing):
        parse_record(json.dumps(data), MARY)


@pytest.mark.parametrize("level", [4, -1, "high", "2", 1.5, True])
def test_a_level_outside_the_scale_is_rejected(level: object) -> None:
    with pytest.raises(RecordInvalid, match=r"pain\.level"):
        parse_record(answer(pain={"level": level, "evidence": "my knee was sore"}), MARY)


@pytest.mark.parametrize(
    "bad",
    ["not json at all", "[1, 2, 3]", answer(summary=""), answer(summary="x" * 601)],
)
def test_output_that_is_not_a_record_is_rejected(bad: str) -> None:
    with pytest.raises(RecordInvalid):
        parse_record(bad, MARY)


def test_a_level_without_the_persons_own_words_becomes_not_discussed() -> None:
    record = parse_record(
        answer(
            # Words nobody said.
            mobility={"level": 2, "evidence": "I can hardly walk"},
            # The assistant's words, not the person's.
            sleep={"level": 2, "evidence": "How have you been sleeping?"},
            # No words at all.
            eating={"level": 1, "evidence": ""},
        ),
        MARY,
    )

    assert record.mobility.level is None and record.mobility.evidence == ""
    assert record.sleep.level is None
    assert record.eating.level is None
    assert record.unsupported == ["sleep", "eating", "mobility"]
    assert record.pain.level == 2  # the others stand


def test_quotes_match_ignoring_case_punctuation_and_elisions() -> None:
    record = parse_record(
        answer(
            pain={"level": 2, "evidence": "MY KNEE WAS SORE — most of the night"},
            social_contact={"level": 0, "evidence": "granddaughter Emma ... on Sunday"},
            medication={"level": 0, "evidence": "I took them with breakfast like always."},
        ),
        MARY,
    )
    assert record.unsupported == []
    assert (record.pain.level, record.social_contact.level, record.medication.level) == (2, 0, 0)

    # A part of a word is not a quote.
    partial = parse_record(answer(pain={"level": 2, "evidence": "nee was sor"}), MARY)
    assert partial.pain.level is None


def test_not_discussed_measures_lose_their_evidence_and_follow_ups_are_tidied() -> None:
    record = parse_record(
        answer(
            eating={"level": None, "evidence": "I'm quite well"},
            follow_ups=["  her   knee ", "", "Emma's visit", "the garden", "a fourth"],
        ),
        MARY,
    )
    assert record.eating.evidence == ""
    assert record.follow_ups == ["her knee", "Emma's visit", "the garden"]


def test_levels_have_words_for_people() -> None:
    assert level_words("pain", 0) == "no pain"
    assert level_words("loneliness", 3) == "very lonely"
    assert level_words("confusion", None) == "not discussed"
    record = WellbeingRecord.model_validate(MARY_ANSWER)
    assert list(record.levels()) == list(MEASURES)


def test_the_measures_are_defined_once_and_everything_follows_them() -> None:
    """`settings.WELLBEING_MEASURES` is the one list; what must spell the measures out (the
    record's typed fields, the table's columns, the words for people) holds exactly them."""
    assert MEASURES == WELLBEING_MEASURES
    assert [name for name in WellbeingRecord.model_fields if name in MEASURES] == list(MEASURES)
    fields = WellbeingRecord.model_fields
    assert {name for name, info in fields.items() if info.annotation is Measure} == set(MEASURES)
    assert [c.name for c in CallRecord.__table__.columns if c.name in MEASURES] == list(MEASURES)
    integer_columns = {c.name for c in CallRecord.__table__.columns if c.type.python_type is int}
    assert integer_columns - {"id", "call_id", "senior_id"} == set(MEASURES)
    assert list(MEASURE_NAMES) == list(MEASURES)
    assert list(LEVEL_WORDS) == list(MEASURES)
    assert parse_thresholds(",".join(f"{name}=2" for name in MEASURES)) == dict.fromkeys(
        MEASURES, 2
    )


# --- extraction against the fake server ------------------------------------------------------


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with running_fake_llm() as fake:
        yield fake


@pytest.fixture
async def client(fake_llm: FakeLLM) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(api_key="sk-test", base_url=fake_llm.base_url, max_retries=0)
    yield client
    await client.close()


async def test_two_known_conversations_give_their_records(
    fake_llm: FakeLLM, client: AsyncOpenAI
) -> None:
    fake_llm.reply_when("granddaughter Emma", MARY_ANSWER)
    fake_llm.reply_when("heart pills", JOHN_ANSWER)

    mary = await extract_record(MARY, client, "gpt-4o")
    john = await extract_record(JOHN, client, "gpt-4o")

    assert mary.levels() == MARY_LEVELS
    assert mary.follow_ups == [
        "her granddaughter Emma visited on Sunday",
        "her knee was sore at night",
    ]
    assert john.levels() == JOHN_LEVELS
    assert john.eating.evidence == "I skipped lunch again ... don't feel like cooking"
    assert john.unsupported == ["mobility"]
    assert john.summary.startswith("John sounded flat")

    request = fake_llm.requests[0]
    assert request["model"] == "gpt-4o"
    assert request["temperature"] == 0
    assert request["response_format"]["json_schema"]["strict"] is True
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["required"] == [*MEASURES, "summary", "follow_ups"]
    transcript = request["messages"][-1]["content"]
    assert "Person: Not so well, my knee was sore most of the night." in transcript
    assert "Assistant: That sounds lovely! How have you been sleeping?" in transcript


async def test_an_invalid_answer_is_asked_again_with_what_was_wrong(
    fake_llm: FakeLLM, client: AsyncOpenAI
) -> None:
    broken = copy.deepcopy(MARY_ANSWER)
    del broken["loneliness"]
    fake_llm.reply(broken)
    fake_llm.reply(MARY_ANSWER)

    record = await extract_record(MARY, client, "gpt-4o")

    assert record.levels() == MARY_LEVELS
    assert fake_llm.chat_count == 2
    second = fake_llm.requests[1]["messages"]
    assert second[-2]["role"] == "assistant"
    assert "loneliness" in second[-1]["content"]


async def test_an_answer_still_invalid_after_the_second_ask_is_an_error(
    fake_llm: FakeLLM, client: AsyncOpenAI
) -> None:
    fake_llm.reply("Mary seems fine.")
    fake_llm.reply(answer(mood={"level": "great", "evidence": "I'm quite well"}))

    with pytest.raises(RecordInvalid, match=r"mood\.level"):
        await extract_record(MARY, client, "gpt-4o")
    assert fake_llm.chat_count == 2


async def test_a_failing_model_is_a_clear_error(fake_llm: FakeLLM, client: AsyncOpenAI) -> None:
    fake_llm.fail(status=503, message="The model is overloaded")

    with pytest.raises(LanguageModelError, match="HTTP 503: The model is overloaded"):
        await extract_record(MARY, client, "gpt-4o")


async def test_an_unreachable_model_is_a_clear_error() -> None:
    client = AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    try:
        with pytest.raises(LanguageModelError, match="could not be reached"):
            await extract_record(MARY, client, "gpt-4o")
    finally:
        await client.close()


async def test_a_call_where_the_person_said_nothing_asks_nothing(
    fake_llm: FakeLLM, client: AsyncOpenAI
) -> None:
    silent = [Line(A, "Hello, is anyone there?"), Line(P, "   "), Line(A, "Goodbye.")]

    with pytest.raises(NothingToRecord):
        await extract_record(silent, client, "gpt-4o")
    assert fake_llm.chat_count == 0
