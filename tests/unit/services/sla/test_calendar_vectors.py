"""Business-time vectors computed by hand (tests/vectors/calendars/vectors.json).

Each vector says why its answer is what it is; together they cover every convention of
DESIGN section 4: weekends, holidays by date and by country, several shifts, overnight
shifts, 24x7, DST gaps and repeats in two zones, inputs in another zone, budgets ending
exactly at a closing or one second past it, and pauses.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.sla.calendar import Calendar
from services.sla.clock import due_at, elapsed

VECTORS = json.loads(
    (Path(__file__).parents[4] / "tests/vectors/calendars/vectors.json").read_text()
)
CALENDARS = {name: Calendar.from_dict(d) for name, d in VECTORS["calendars"].items()}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _pauses(vector):
    return [(_at(a), _at(b)) for a, b in vector.get("pauses", [])]


@pytest.mark.parametrize("vector", VECTORS["due"], ids=lambda v: v["why"])
def test_due_moment(vector):
    calendar = CALENDARS[vector["calendar"]]
    due = calendar.add_business_time(_at(vector["start"]), timedelta(seconds=vector["seconds"]))
    assert due.isoformat() == vector["due"]
    assert str(due.tzinfo) == calendar.timezone


@pytest.mark.parametrize("vector", VECTORS["between"], ids=lambda v: v["why"])
def test_business_time_between(vector):
    calendar = CALENDARS[vector["calendar"]]
    between = calendar.business_time_between(_at(vector["start"]), _at(vector["end"]))
    assert between == timedelta(seconds=vector["seconds"])


@pytest.mark.parametrize("vector", VECTORS["clock"], ids=lambda v: v["why"])
def test_due_with_pauses(vector):
    calendar = CALENDARS[vector["calendar"]]
    due = due_at(
        calendar, _at(vector["start"]), timedelta(seconds=vector["seconds"]), _pauses(vector)
    )
    assert due.isoformat() == vector["due"]


@pytest.mark.parametrize("vector", VECTORS["elapsed"], ids=lambda v: v["why"])
def test_elapsed_with_pauses(vector):
    calendar = CALENDARS[vector["calendar"]]
    used = elapsed(calendar, _at(vector["start"]), _at(vector["end"]), _pauses(vector))
    assert used == timedelta(seconds=vector["seconds"])
