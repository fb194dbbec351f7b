"""Due-date computations per second on one core, and SLA states of 10,000 open requests.

Goals (issue 3): >= 50,000/s for 8 h budgets on a calendar with two shifts a day and a
year of holidays; a 2000 h budget at most 5x the cost of 8 h; 10,000 states in < 1 s.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from services.sla.calendar import Calendar
from services.sla.clock import elapsed, sla_state

CALENDAR = {
    "timezone": "Europe/Amsterdam",
    "weekly": {
        d: [["08:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
    },
    "holiday_country": "NL",
    "holidays": ["2026-07-20", "2026-07-21", "2026-12-24", "2026-12-31"],
}


def _per_second(calendar: Calendar, starts: list[datetime], budget: timedelta) -> float:
    best = 0.0
    for _ in range(3):
        began = time.perf_counter()
        for start in starts:
            calendar.add_business_time(start, budget)
        best = max(best, len(starts) / (time.perf_counter() - began))
    return best


def _states(calendar: Calendar, count: int) -> float:
    rng = random.Random(7)
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    requests = []
    for i in range(count):
        created = now - timedelta(minutes=rng.randrange(1, 60 * 24 * 20))
        pauses = (
            [(created + timedelta(hours=1), created + timedelta(hours=3))] if i % 5 == 0 else []
        )
        requests.append((created, pauses))
    began = time.perf_counter()
    for created, pauses in requests:
        for target in (timedelta(hours=4), timedelta(hours=16)):
            sla_state(target, elapsed(calendar, created, now, pauses), stopped=False)
    return time.perf_counter() - began


def main() -> dict[str, Any]:
    calendar = Calendar.from_dict(CALENDAR)
    rng = random.Random(1)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [year + timedelta(seconds=rng.randrange(365 * 86_400)) for _ in range(20_000)]
    for start in starts[:2000]:  # warm the per-day cache, as a running node has it
        calendar.add_business_time(start, timedelta(hours=2000))
    figures: dict[str, Any] = {
        f"{hours}h_per_s": round(_per_second(calendar, starts, timedelta(hours=hours)))
        for hours in (1, 8, 200, 2000)
    }
    figures["cost_2000h_vs_8h"] = round(figures["8h_per_s"] / figures["2000h_per_s"], 2)
    figures["states_10000_s"] = round(_states(calendar, 10_000), 3)
    figures["goals_met"] = (
        figures["8h_per_s"] >= 50_000
        and figures["cost_2000h_vs_8h"] <= 5
        and figures["states_10000_s"] < 1
    )
    return figures


if __name__ == "__main__":
    from tests.bench.harness import print_table

    result = main()
    print_table("business time (one core)", result)
    raise SystemExit(0 if result["goals_met"] else 1)
