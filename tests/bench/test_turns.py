"""bench.turns' pure parts: the corpus and its checks, the line, and what is measured on
synthetic timelines (no servers, no clocks)."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench.turn_corpus import (
    ANSWER_KINDS,
    KINDS,
    MAX_PAUSE_S,
    MIN_PAUSE_S,
    VOICE_RMS,
    CorpusError,
    Line,
    cough_pcm,
    line_noise,
    load_corpus,
    trim_to_voice,
)
from bench.turn_metrics import (
    BotAudio,
    Span,
    Spoken,
    answer_latency,
    backchannel_pause,
    cut_in,
    false_stop,
    time_to_silence,
    ulaw_rms,
)
from bench.turns import ItemResult, ServerRun, pick_items, reply_seconds, target_rows
from tests.fakes.speech import pcm16_to_ulaw

LOUD = pcm16_to_ulaw(np.full(160, 3000, dtype="<i2").tobytes())
SILENT = b"\xff" * 160


def test_the_corpus_is_what_the_issue_asks_for() -> None:
    items = load_corpus()
    kinds = Counter(item.kind for item in items)
    answers = sum(kinds[k] for k in ANSWER_KINDS)
    assert answers >= 150
    assert 0.4 <= kinds["paused"] / answers <= 0.6
    assert kinds["complete-short"] >= 20 and kinds["complete-long"] >= 20
    assert kinds["backchannel"] >= 20 and kinds["interruption"] >= 20
    for kind in KINDS:  # every kind has both parts, about 40 % for tuning
        splits = Counter(item.split for item in items if item.kind == kind)
        assert 0.3 <= splits["tuning"] / (splits["tuning"] + splits["held-out"]) <= 0.5
    pauses = [s.pause_after for i in items if i.kind == "paused" for s in i.segments[:-1]]
    assert all(MIN_PAUSE_S <= p <= MAX_PAUSE_S for p in pauses)
    backchannels = {i.text for i in items if i.kind == "backchannel"}
    assert {"Mm-hm.", "Yes.", "Okay.", "Oh.", "[cough]", "[laugh]"} <= backchannels
    assert {"Wait.", "Sorry?", "Pardon?", "Stop."} <= {
        i.text for i in items if i.kind == "interruption"
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "chatter"}, "kind must be one of"),
        ({"split": "train"}, "split must be"),
        (
            {
                "segments": [
                    {"text": "I went and", "pause_after": 0.3},
                    {"text": "came back.", "pause_after": 0},
                ]
            },
            "pauses of 0.7-2.5 s",
        ),
        ({"segments": [{"text": "Yes.", "pause_after": 1.0}]}, "no pause after it"),
        (
            {"kind": "backchannel", "segments": [{"text": "Mm-hm.", "pause_after": 0}]},
            "needs a lead answer",
        ),
        ({}, "the id 'paused-001' is used twice"),
    ],
)
def test_a_bad_corpus_line_is_named(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    good = {
        "id": "paused-001",
        "kind": "paused",
        "split": "tuning",
        "question": "How are you?",
        "segments": [
            {"text": "I went to the shop and", "pause_after": 1.2},
            {"text": "came back.", "pause_after": 0.0},
        ],
    }
    path = tmp_path / "turns.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, **change}) + "\n")
    with pytest.raises(CorpusError, match=f"line 2: .*{re.escape(message)}"):
        load_corpus(path)


def test_a_short_run_still_sees_every_kind() -> None:
    items = pick_items(load_corpus(), KINDS, 6)
    assert len(items) == 6
    assert {item.kind for item in items} == set(KINDS)


def test_line_noise_is_quiet_hiss_and_hum_never_voice() -> None:
    noise = line_noise().astype(np.float64)
    dbfs = 20 * np.log10(np.sqrt((noise**2).mean()) / 32768)
    assert -55 <= dbfs <= -45
    frames = noise[: noise.size // 160 * 160].reshape(-1, 160)
    assert np.sqrt((frames**2).mean(axis=1)).max() < VOICE_RMS
    noisy, silent = Line(noisy=True), Line(noisy=False)
    assert all(ulaw_rms(base64.b64decode(f)) > 20 for f in noisy.pause(0.2))
    assert all(f == silent.pause(0.02)[0] for f in silent.pause(0.2))
    assert len(silent.pause(1.0)) == 50


def test_a_cough_is_a_short_voiced_sound() -> None:
    cough = trim_to_voice(cough_pcm(seed=1))
    assert 0.2 <= cough.size / 8000 <= 0.6


def spoken(*segments: tuple[float, float]) -> Spoken:
    return Spoken(tuple(segments))


def test_a_bot_that_starts_in_the_pause_cuts_in() -> None:
    answer = spoken((10.0, 12.0), (14.0, 15.5))  # a 2 s pause after the first part
    assert cut_in(answer, [Span(13.4, 16.0)])
    assert cut_in(answer, [Span(15.0, 17.0)])  # started while the caller said the rest
    assert not cut_in(answer, [Span(16.3, 20.0)])
    assert not cut_in(answer, [Span(5.0, 9.0), Span(16.3, 20.0)])  # the previous answer
    # A late answer to the turn before, sent before the bot could hear this one begin.
    assert not cut_in(spoken((10.0, 10.5)), [Span(10.06, 10.2)])


def test_latency_runs_from_the_last_voiced_frame_to_the_first_audible_answer() -> None:
    answer = spoken((10.0, 12.0))
    assert answer_latency(answer, [Span(5.0, 9.0), Span(12.8, 15.0)]) == pytest.approx(0.8)
    assert answer_latency(answer, [Span(11.0, 13.0)]) is None  # talking over the caller
    assert answer_latency(answer, [Span(50.0, 51.0)], within=20) is None


def test_bot_audio_spans_come_from_audible_media_and_end_at_clear() -> None:
    bot = BotAudio()
    bot.on_media(1.0, SILENT)  # silence is not heard as an answer
    assert bot.spans == []
    for k in range(10):  # 200 ms of audio, 20 ms at a time
        bot.on_media(2.0 + k * 0.02, LOUD)
    assert bot.spans[0].start == 2.0 and bot.spans[0].end == pytest.approx(2.2)
    bot.on_media(2.5, LOUD)  # a sentence arriving a little late: the same answer
    assert len(bot.spans) == 1
    bot.on_clear(2.51)
    assert bot.spans[0].end == pytest.approx(2.51)
    bot.on_media(4.0, LOUD)
    assert [s.start for s in bot.spans] == [2.0, 4.0]


def test_a_backchannel_stops_the_bot_by_clear_or_by_its_answer_ending_early() -> None:
    mm_hm = spoken((11.0, 11.4))
    answer = Span(10.0, 15.0)
    assert false_stop(mm_hm, [answer], [], answers_at := 15.0) is False
    assert false_stop(mm_hm, [Span(10.0, 11.9)], [11.9], answers_at) is True
    assert false_stop(mm_hm, [Span(10.0, 12.0)], [], answers_at) is True  # stopped, no clear
    assert false_stop(mm_hm, [Span(10.0, 12.0)], [], 12.2) is False  # it had finished
    assert false_stop(mm_hm, [Span(5.0, 9.0)], [], answers_at) is None  # bot was silent


def test_a_bot_that_pauses_for_a_backchannel_and_goes_on_was_not_stopped() -> None:
    mm_hm = spoken((11.0, 11.4))
    answers_at = 15.0
    # Held at 11.2 (a clear), taken up again at 12.0 from its sentence's start, to the end.
    paused = [Span(10.0, 11.2), Span(12.0, 16.5)]
    assert false_stop(mm_hm, paused, [11.2], answers_at) is False
    assert backchannel_pause(mm_hm, paused, [11.2], answers_at) == pytest.approx(0.8)
    # Went on, but only briefly: a short answer to "mm-hm", not the rest of its own.
    answered = [Span(10.0, 11.2), Span(12.0, 13.0)]
    assert false_stop(mm_hm, answered, [11.2], answers_at) is True
    # Nothing came after the clear, or only much later (its next answer): stopped.
    assert false_stop(mm_hm, [Span(10.0, 11.2)], [11.2], answers_at) is True
    assert false_stop(mm_hm, [Span(10.0, 11.2), Span(16.0, 20.0)], [11.2], answers_at) is True
    assert backchannel_pause(mm_hm, [Span(10.0, 11.2)], [11.2], answers_at) is None
    # It never went quiet: no pause.
    assert backchannel_pause(mm_hm, [Span(10.0, 15.0)], [], answers_at) is None


def test_time_to_silence_is_the_clear_or_the_end_of_the_audio() -> None:
    wait = spoken((11.0, 11.3))
    assert time_to_silence(wait, [Span(10.0, 11.25)], [11.25]) == pytest.approx(0.25)
    assert time_to_silence(wait, [Span(10.0, 14.0)], []) == pytest.approx(3.0)
    assert time_to_silence(wait, [Span(5.0, 9.0)], []) is None


def test_the_answer_to_a_lead_lasts_seconds() -> None:
    assert 4.0 <= reply_seconds("Not too bad.", 5) <= 7.0


def test_the_targets_compare_held_out_items_with_the_reference() -> None:
    def item(target: str, kind: str, split: str, **figures: object) -> ItemResult:
        result = ItemResult(f"{kind}-1", kind, split, "v", "default-noise", target, 0, ok=True)
        for name, value in figures.items():
            setattr(result, name, value)
        return result

    carecall = ServerRun(
        "default-noise",
        "carecall",
        [
            item("carecall", "paused", "held-out", cut_in=False),
            item("carecall", "paused", "tuning", cut_in=True),  # tuning: not a target
            item("carecall", "complete-short", "held-out", cut_in=False, latency_s=0.8),
            item("carecall", "complete-long", "held-out", cut_in=False, latency_s=1.2),
        ],
    )
    reference = ServerRun(
        "default-noise",
        "reference",
        [
            item("reference", "paused", "held-out", cut_in=True),
            item("reference", "complete-short", "held-out", cut_in=False, latency_s=0.9),
        ],
    )
    rows = {row[1]: row[2:] for row in target_rows([reference, carecall])}
    assert rows["cut-in, paused ≤ 5 %"] == ["0 %", "100 %", "PASS"]
    assert rows["latency p50 ≤ 1.0 s"] == ["1000 ms", "900 ms", "PASS"]
    assert rows["latency p50 ≤ reference's"] == ["1000 ms", "900 ms", "FAIL"]
    assert rows["backchannel stops ≤ 5 %"] == ["-", "-", "-"]
