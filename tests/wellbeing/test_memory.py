"""The memory digest: what it says, newest first, and that it stays bounded over many calls."""

from __future__ import annotations

import random
from datetime import date, timedelta

from carecall.wellbeing.memory import (
    MAX_DIGEST_CHARS,
    MAX_FOLLOW_UPS,
    RememberedCall,
    build_digest,
)


def follow_up_lines(digest: str) -> list[str]:
    lines = digest.splitlines()
    if "To follow up:" not in lines:
        return []
    return lines[lines.index("To follow up:") + 1 :]


def test_a_digest_gives_the_last_calls_and_what_to_follow_up() -> None:
    older = RememberedCall(
        day=date(2026, 11, 20),
        summary="Mary was tired but cheerful. Her new neighbour moved in.",
        follow_ups=("a new neighbour moved in next door",),
        order=1,
    )
    newer = RememberedCall(
        day=date(2026, 11, 24),
        summary="Mary had a visit from her granddaughter Emma. Her knee was sore.",
        follow_ups=("her granddaughter Emma visited on Sunday", "her knee was sore at night"),
        order=2,
    )

    digest = build_digest([older, newer])

    assert digest == (
        "Recent calls, newest first:\n"
        "- Tue 24 Nov: Mary had a visit from her granddaughter Emma. Her knee was sore.\n"
        "- Fri 20 Nov: Mary was tired but cheerful. Her new neighbour moved in.\n"
        "To follow up:\n"
        "- her granddaughter Emma visited on Sunday (Tue 24 Nov)\n"
        "- her knee was sore at night (Tue 24 Nov)\n"
        "- a new neighbour moved in next door (Fri 20 Nov)"
    )


def test_without_suggestions_a_measure_of_concern_is_followed_up_in_their_words() -> None:
    call = RememberedCall(
        day=date(2026, 11, 24),
        summary="John is lonely and skipping meals.",
        levels={"loneliness": 2, "eating": 3, "mood": 1},
        evidence={"loneliness": "I feel rather lonely", "eating": "I skipped lunch again"},
    )

    assert follow_up_lines(build_digest([call])) == [
        '- eating, hardly eating: "I skipped lunch again" (Tue 24 Nov)',
        '- loneliness, lonely: "I feel rather lonely" (Tue 24 Nov)',
    ]


def test_the_same_calls_give_the_same_digest_in_any_order() -> None:
    calls = [
        RememberedCall(
            day=date(2026, 11, 1) + timedelta(days=i // 2),
            summary=f"Call number {i}.",
            follow_ups=(f"topic {i}",),
            order=i,
        )
        for i in range(9)
    ]
    shuffled = calls[:]
    random.Random(7).shuffle(shuffled)

    assert build_digest(shuffled) == build_digest(calls)
    # Newest first: the latest call, then the one before it on the same day.
    assert follow_up_lines(build_digest(calls))[:2] == [
        "- topic 8 (Thu 5 Nov)",
        "- topic 7 (Wed 4 Nov)",
    ]


def test_the_digest_stays_bounded_over_many_calls() -> None:
    calls: list[RememberedCall] = []
    for i in range(60):
        calls.append(
            RememberedCall(
                day=date(2026, 1, 1) + timedelta(days=i),
                summary=f"Call {i}: "
                + "she talked at length about the garden and the weather. " * 8,
                follow_ups=tuple(
                    f"call {i} topic {n} " + "with many details " * 10 for n in range(3)
                ),
                order=i,
            )
        )
        digest = build_digest(calls)

        assert len(digest) <= MAX_DIGEST_CHARS
        follow_ups = follow_up_lines(digest)
        assert 1 <= len(follow_ups) <= MAX_FOLLOW_UPS
        assert follow_ups[0].startswith(f"- call {i} topic 0")  # the newest first
        assert f"Call {i}:" in digest
    assert "Call 0:" not in digest
    assert "call 0 topic" not in digest


def test_no_calls_no_digest() -> None:
    assert build_digest([]) == ""
