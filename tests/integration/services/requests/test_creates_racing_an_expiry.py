"""Expiring an offering stops new requests at once (DESIGN sections 4 and 5): a create and
an expiry of one offering queue up, so no request is ever raised at or after its end.

A create reads the offering under a lock held until it commits (on PostgreSQL a share
lock on the offering's row, which an expiry's update lock waits for; on SQLite the
database's write lock, taken before the read), and both take the moment they act at
only once they hold it. Each test keeps one of the two uncommitted in this thread while
the other arrives through the API on its own connection, and lets a second pass on the
clock while the other waits: an act that took its moment before waiting, or did not
wait at all, leaves a request raised at or after the end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.offerings.service import Offerings
from services.requests.service import Requests
from tests.integration.services.requests.conftest import Desk, admin_work, build_desk, holding


def _while_time_passes(app: Any, clock: Any, first: Callable[[], Any], second: Callable[[], Any]):
    """``holding``, a second passing before the first commits."""
    return holding(app, first, second, lambda: clock.advance(timedelta(seconds=1)))


def _raised_at_or_after_the_end(desk: Desk) -> list[int]:
    """Numbers of the offering's requests raised at or after its end."""
    offering = desk.get(f"/api/v1/offerings/{desk.offering}").get_json()
    ends = datetime.fromisoformat(offering["ends_at"])
    listed = desk.get("/api/v1/requests", offering_id=desk.offering, limit=200).get_json()
    return [r["number"] for r in listed["items"] if datetime.fromisoformat(r["created_at"]) >= ends]


def test_a_create_that_comes_during_an_expiry_waits_for_it_and_is_refused(app, clock):
    desk = build_desk(app, app.test_client())
    desk.raise_request()  # the end user's token is used from here on (a first use writes)
    clock.advance(timedelta(minutes=1))
    node = app.extensions["trustdesk"]

    _, answer = _while_time_passes(
        app,
        clock,
        lambda: Offerings(admin_work(node, desk.account)).expire(desk.offering),
        lambda: desk.post(
            "/api/v1/requests", {"subject": "Just in time?", "offering_id": desk.offering},
            "end_user",
        ),
    )  # fmt: skip

    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "offering_closed"
    assert _raised_at_or_after_the_end(desk) == []


def test_an_expiry_that_comes_during_a_create_waits_for_it_and_ends_after_it(app, clock):
    desk = build_desk(app, app.test_client())
    node = app.extensions["trustdesk"]

    def raise_one() -> dict[str, Any]:
        created, _ = Requests(admin_work(node, desk.account)).create(
            subject="Raised while the offering was open", offering_id=desk.offering
        )
        return {"id": created.id, "created_at": created.created_at}

    raised, answer = _while_time_passes(
        app,
        clock,
        raise_one,
        lambda: desk.post(f"/api/v1/offerings/{desk.offering}/expire", {}),
    )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert datetime.fromisoformat(answer.get_json()["ends_at"]) > raised["created_at"]
    assert _raised_at_or_after_the_end(desk) == []
    assert desk.get(f"/api/v1/requests/{raised['id']}").status_code == 200
