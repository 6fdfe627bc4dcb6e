"""`GET /api/reports/outcomes` on SQLite and PostgreSQL, against a program worked out by hand
(`report_data`): weeks from Monday in Europe/London across the change to summer time, months,
a check-in reached on the second try, an escalation nobody acknowledged, nearest-rank
percentiles; the CSV's one table; credentials; and bad input answered with a 422 that says
what is wrong."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carecall.api.reports import CSV_COLUMNS, OutcomesReport
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import Senior
from carecall.settings import WELLBEING_MEASURES
from tests.api.report_data import AGENCY_ZONE, FROM, TO, WEEKS, Stored, store_outcomes_data
from tests.api.support import app_state, make_client, on_app_loop
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

URL = "/api/reports/outcomes"


@pytest.fixture
def client(make_settings: Callable[..., Any], database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url=database_url, agency_timezone=AGENCY_ZONE)
    yield from make_client(settings, FakeAsyncTwilioHttpClient())


@pytest.fixture
def stored(client: TestClient) -> Stored:
    sessions = create_session_factory(app_state(client).engine)
    return on_app_loop(client, store_outcomes_data, sessions)


def _report(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get(URL, params={"from": FROM, "to": TO, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    report: dict[str, Any] = response.json()
    OutcomesReport.model_validate(report)  # the documented shape
    return report


def _not_reached(**counts: int) -> dict[str, int]:
    return {
        "no-answer": counts.get("no_answer", 0),
        "voicemail": counts.get("voicemail", 0),
        "busy": counts.get("busy", 0),
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
    }


def _acknowledged(
    opened: int, acknowledged: int, p50: int | None = None, p90: int | None = None
) -> dict[str, int | None]:
    return {
        "opened": opened,
        "acknowledged": acknowledged,
        "unacknowledged": opened - acknowledged,
        "ack_p50_seconds": p50,
        "ack_p90_seconds": p90,
    }


def test_week_by_week_in_the_agency_zone_across_the_change_to_summer_time(
    client: TestClient, stored: Stored
) -> None:
    report = _report(client)

    assert (report["from"], report["to"], report["group"], report["timezone"]) == (
        FROM,
        TO,
        "week",
        AGENCY_ZONE,
    )
    twelve, thirteen, fourteen = report["buckets"]
    assert [(b["label"], b["first_day"], b["last_day"]) for b in report["buckets"]] == [
        (WEEKS[0], "2026-03-16", "2026-03-22"),
        (WEEKS[1], "2026-03-23", "2026-03-29"),
        (WEEKS[2], "2026-03-30", "2026-04-05"),
    ]
    # Tom's check-in at 23:30 on Sunday 22 March (GMT) is week 12's, still to be tried; Mary's
    # opt-out at 00:30 BST on Monday 30 March is week 14's, though 23:30 UTC on Sunday.
    assert twelve["checkins"] == {
        "due": 2,
        "reached": 1,
        "opted_out": 0,
        "not_reached": _not_reached(),
        "not_reached_total": 0,
        "in_progress": 1,
        "tries_per_reached": 1.0,
        "reached_first_try": 1,
        "first_try_share": 1.0,
    }
    assert thirteen["checkins"] == {
        "due": 3,
        "reached": 1,
        "opted_out": 0,
        "not_reached": _not_reached(no_answer=1, voicemail=1),
        "not_reached_total": 2,
        "in_progress": 0,
        "tries_per_reached": 2.0,  # Mary, reached on the second try
        "reached_first_try": 0,
        "first_try_share": 0.0,
    }
    assert fourteen["checkins"] == {
        "due": 3,
        "reached": 1,
        "opted_out": 1,
        "not_reached": _not_reached(busy=1, skipped=1),
        "not_reached_total": 2,
        "in_progress": 0,
        "tries_per_reached": 1.0,
        "reached_first_try": 1,
        "first_try_share": 1.0,
    }
    # Escalations: week 13 took 1200 s and 300 s, one is still waiting; week 14 took 60 s.
    assert twelve["escalations"] == _acknowledged(0, 0)
    assert thirteen["escalations"] == _acknowledged(3, 2, 300, 1200)
    assert fourteen["escalations"] == _acknowledged(1, 1, 60, 60)
    assert [b["alerts"] for b in report["buckets"]] == [
        {"red_flag": _acknowledged(1, 1, 120, 120), "trend": _acknowledged(0, 0)},
        {"red_flag": _acknowledged(0, 0), "trend": _acknowledged(1, 1, 7200, 7200)},
        {"red_flag": _acknowledged(2, 1, 1800, 1800), "trend": _acknowledged(0, 0)},
    ]
    # Phone calls only (the demo call is not one); every channel's answers for the latency.
    assert [b["calls"] for b in report["buckets"]] == [
        {
            "placed": 1,
            "answered": 1,
            "minutes": 5.0,
            "latency_turns": 3,
            "latency_p50_ms": 800,  # 800, 800, 1200: the 2nd of 3
            "latency_p95_ms": 1200,
        },
        {
            "placed": 2,
            "answered": 1,
            "minutes": 4.0,
            "latency_turns": 3,
            "latency_p50_ms": 900,  # 700 (the demo call), 900, 1500
            "latency_p95_ms": 1500,
        },
        {
            "placed": 2,
            "answered": 2,
            "minutes": 3.0,
            "latency_turns": 1,
            "latency_p50_ms": 2000,
            "latency_p95_ms": 2000,
        },
    ]


def test_the_total_is_the_whole_period_with_its_own_percentiles(
    client: TestClient, stored: Stored
) -> None:
    total = _report(client)["total"]

    assert (total["label"], total["first_day"], total["last_day"]) == ("total", FROM, TO)
    assert total["checkins"] == {
        "due": 8,
        "reached": 3,
        "opted_out": 1,
        "not_reached": _not_reached(no_answer=1, voicemail=1, busy=1, skipped=1),
        "not_reached_total": 4,
        "in_progress": 1,
        "tries_per_reached": 1.33,  # 1 + 2 + 1 tries for 3
        "reached_first_try": 2,
        "first_try_share": 0.667,
    }
    assert total["escalations"] == _acknowledged(4, 3, 300, 1200)  # of 60, 300, 1200
    assert total["alerts"] == {
        "red_flag": _acknowledged(3, 2, 120, 1800),
        "trend": _acknowledged(1, 1, 7200, 7200),
    }
    # Latencies 700, 800, 800, 900, 1200, 1500, 2000: the 4th of 7 and the 7th.
    assert total["calls"] == {
        "placed": 5,
        "answered": 4,
        "minutes": 12.0,
        "latency_turns": 7,
        "latency_p50_ms": 900,
        "latency_p95_ms": 2000,
    }


def test_the_escalation_nobody_acknowledged_is_listed(client: TestClient, stored: Stored) -> None:
    waiting = _report(client)["unacknowledged_escalations"]

    assert waiting["count"] == 1
    [escalation] = waiting["oldest"]
    assert escalation == {
        "id": stored.waiting_escalation,
        "senior_id": stored.tom,
        "senior_name": "Tom Jones",
        "opened_at": "2026-03-25T10:50:00+00:00",
        "state": "exhausted",
        "reason": "3 tries: no answer",
    }


def test_the_wellbeing_measures_per_person_and_overall(client: TestClient, stored: Stored) -> None:
    wellbeing = _report(client)["wellbeing"]

    def levels(person: dict[str, Any]) -> dict[str, tuple[list[int], int]]:
        return {
            measure: (counts["levels"], counts["not_discussed"])
            for measure, counts in person["measures"].items()
            if counts["not_discussed"] != person["records"]
        }

    assert wellbeing["levels"] == ["good", "fair", "poor", "concerning"]
    overall = wellbeing["overall"]
    assert (overall["senior_id"], overall["name"], overall["records"]) == (None, "Everyone", 4)
    assert set(overall["measures"]) == set(WELLBEING_MEASURES)
    assert levels(overall) == {
        "mood": ([2, 1, 0, 1], 0),
        "sleep": ([0, 0, 2, 0], 2),
        "pain": ([0, 0, 0, 1], 3),
        "loneliness": ([0, 0, 1, 0], 3),
    }
    mary, tom = wellbeing["people"]
    assert (mary["senior_id"], mary["name"], mary["records"]) == (stored.mary, "Mary Smith", 3)
    assert levels(mary) == {
        "mood": ([2, 1, 0, 0], 0),
        "sleep": ([0, 0, 2, 0], 1),
        "pain": ([0, 0, 0, 1], 2),
    }
    assert (tom["senior_id"], tom["name"], tom["records"]) == (stored.tom, "Tom Jones", 1)
    assert levels(tom) == {"mood": ([0, 0, 0, 1], 0), "loneliness": ([0, 0, 1, 0], 0)}


def test_month_by_month(client: TestClient, stored: Stored) -> None:
    report = _report(client, group="month")

    march, april = report["buckets"]
    assert [(b["label"], b["first_day"], b["last_day"]) for b in report["buckets"]] == [
        ("2026-03", "2026-03-16", "2026-03-31"),
        ("2026-04", "2026-04-01", "2026-04-05"),
    ]
    assert (march["checkins"]["due"], april["checkins"]["due"]) == (7, 1)
    assert march["checkins"]["not_reached"] == _not_reached(no_answer=1, voicemail=1, skipped=1)
    assert april["checkins"]["not_reached"] == _not_reached(busy=1)
    assert march["escalations"] == _acknowledged(3, 2, 300, 1200)
    assert april["escalations"] == _acknowledged(1, 1, 60, 60)
    # Tom's chest pain at 00:30 BST on 1 April (23:30 UTC on 31 March) is April's.
    assert march["alerts"]["red_flag"] == _acknowledged(2, 2, 120, 1800)
    assert april["alerts"]["red_flag"] == _acknowledged(1, 0)
    assert (march["calls"]["placed"], march["calls"]["minutes"]) == (4, 11.0)
    assert (march["calls"]["latency_p50_ms"], march["calls"]["latency_p95_ms"]) == (900, 2000)
    assert april["calls"] == {
        "placed": 1,
        "answered": 1,
        "minutes": 1.0,
        "latency_turns": 0,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
    }
    assert report["total"] == _report(client)["total"] | {"label": "total"}


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.text)))


def test_the_csv_is_one_table_one_figure_a_row(client: TestClient, stored: Stored) -> None:
    response = client.get(URL, params={"from": FROM, "to": TO, "format": "csv"})

    rows = _csv(response)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="outcomes_{FROM}_{TO}_week.csv"'
    )
    header, *figures = rows
    assert tuple(header) == CSV_COLUMNS
    assert all(len(row) == len(CSV_COLUMNS) for row in figures)
    buckets = [row for row in figures if not row[5].startswith("wellbeing.")]
    # 13 check-in figures, 5 for escalations, 5 for each of 2 alert kinds, 6 for calls; in
    # each of the 3 weeks and the total.
    assert len(buckets) == 34 * 4
    assert [row[0] for row in buckets[::34]] == [*WEEKS, "total"]
    people = [row for row in figures if row[5].startswith("wellbeing.")]
    assert len(people) == (1 + 9 * 5) * 3  # everyone, Mary, Tom
    assert {row[0] for row in people} == {"total"}
    assert [row[3] for row in people[::46]] == ["", str(stored.mary), str(stored.tom)]
    assert len(figures) == len(buckets) + len(people)
    found = {(row[0], row[3], row[5]): row for row in figures}
    assert found[(WEEKS[1], "", "checkins.not_reached.no-answer")] == [
        WEEKS[1],
        "2026-03-23",
        "2026-03-29",
        "",
        "",
        "checkins.not_reached.no-answer",
        "1",
    ]
    assert found[(WEEKS[0], "", "escalations.ack_p50_seconds")][6] == ""  # none to measure
    assert found[("total", "", "escalations.ack_p50_seconds")][6] == "300"
    assert found[("total", "", "alerts.red_flag.ack_p90_seconds")][6] == "1800"
    assert found[("total", "", "checkins.first_try_share")][6] == "0.667"
    assert found[("total", "", "calls.minutes")][6] == "12.0"
    assert found[("total", "", "wellbeing.mood.level_3")][6] == "1"
    assert found[("total", str(stored.mary), "wellbeing.sleep.level_2")] == [
        "total",
        FROM,
        TO,
        str(stored.mary),
        "Mary Smith",
        "wellbeing.sleep.level_2",
        "2",
    ]


def test_the_csv_is_also_given_for_accept_text_csv(client: TestClient, stored: Stored) -> None:
    by_format = client.get(URL, params={"from": FROM, "to": TO, "format": "csv"})
    by_accept = client.get(URL, params={"from": FROM, "to": TO}, headers={"Accept": "text/csv"})
    json_wins = client.get(
        URL, params={"from": FROM, "to": TO, "format": "json"}, headers={"Accept": "text/csv"}
    )

    assert _csv(by_accept) == _csv(by_format)
    assert json_wins.headers["content-type"] == "application/json"


def test_a_name_that_a_spreadsheet_would_run_is_written_as_text(
    client: TestClient, stored: Stored
) -> None:
    async def rename() -> None:
        async with create_session_factory(app_state(client).engine).begin() as session:
            tom = await session.get(Senior, stored.tom)
            assert tom is not None
            tom.name = '=HYPERLINK("https://example.org","Tom")'

    on_app_loop(client, rename)

    rows = _csv(client.get(URL, params={"from": FROM, "to": TO, "format": "csv"}))

    assert {row[4] for row in rows if row[3] == str(stored.tom)} == {
        '\'=HYPERLINK("https://example.org","Tom")'
    }


def test_an_empty_period_has_every_figure_at_zero_or_none(client: TestClient) -> None:
    report = _report(client)

    assert len(report["buckets"]) == 3
    assert report["total"]["checkins"]["due"] == 0
    assert report["total"]["checkins"]["tries_per_reached"] is None
    assert report["total"]["escalations"] == _acknowledged(0, 0)
    assert report["total"]["calls"]["latency_p50_ms"] is None
    assert report["unacknowledged_escalations"] == {"count": 0, "oldest": []}
    assert report["wellbeing"]["overall"]["records"] == 0
    assert report["wellbeing"]["people"] == []


def test_without_dates_the_report_is_the_last_12_weeks(client: TestClient) -> None:
    response = client.get(URL)

    assert response.status_code == 200, response.text
    buckets = response.json()["buckets"]
    assert len(buckets) == 12
    assert buckets[0]["first_day"] == response.json()["from"]


def test_the_report_needs_an_api_key_or_a_session(
    make_settings: Callable[..., Any], tmp_path: Any
) -> None:
    settings = make_settings()
    for anonymous in make_client(settings, FakeAsyncTwilioHttpClient(), api_key=False):
        response = anonymous.get(URL, params={"from": FROM, "to": TO})
        assert response.status_code == 401
        assert response.json()["detail"] == (
            "Sign in, or send an API key as 'Authorization: Bearer <key>'."
        )
        bad_key = anonymous.get(URL, headers={"Authorization": "Bearer cc_nope_nope"})
        assert bad_key.status_code == 401


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        (
            {"from": "2026-04-05", "to": "2026-03-16"},
            "'from' (2026-04-05) is after 'to' (2026-03-16).",
        ),
        (
            {"from": "2025-01-01", "to": "2026-03-01"},
            "The period is 425 days long; a report covers at most 366 days.",
        ),
        (
            {"from": "0001-01-01", "to": "0001-01-02"},
            "'from' must be between 1970-01-01 and 2999-12-31.",
        ),
        ({"to": "9999-12-31"}, "'to' must be between 1970-01-01 and 2999-12-31."),
    ],
)
def test_a_period_that_cannot_be_reported_on_is_a_422_saying_why(
    client: TestClient, params: dict[str, str], detail: str
) -> None:
    response = client.get(URL, params=params)

    assert response.status_code == 422
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "last tuesday"}, "query.from"),
        ({"to": "2026-02-30"}, "query.to"),
        ({"group": "year"}, "query.group"),
        ({"format": "xlsx"}, "query.format"),
    ],
)
def test_a_parameter_that_is_not_valid_is_a_422_naming_it(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get(URL, params=params)

    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("The request is not valid: " + field)
    assert body["errors"][0].startswith(field + ":")
