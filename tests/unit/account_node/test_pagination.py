"""Keyset pagination: opaque cursors that round-trip, refuse anything the server did not
issue, and page over a real table so that every row comes exactly once, in order, even
when many rows share one ``created_at``."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from account_node.clock import FakeClock
from account_node.context import Work
from account_node.db import db
from account_node.errors import ValidationFailed
from account_node.identity.authentication import principal_of
from account_node.identity.models import Person
from account_node.identity.service import People
from account_node.identity.store import PeopleStore
from account_node.pagination import decode_cursor, encode_cursor, keyset, page_of
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 5, 9, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
)
def test_a_cursor_round_trips_its_moment_and_id(moment):
    row_id = "9f1c0e4a7b2d4c1e8f3a5b6c7d8e9f01"
    assert decode_cursor(encode_cursor(moment, row_id)) == (moment, row_id)


def test_a_cursor_is_url_safe_and_unpadded():
    cursor = encode_cursor(datetime(2026, 1, 5, tzinfo=UTC), "?&=/+ id with ünïcode")
    assert cursor.isascii()
    assert not set(cursor) & set("=+/?& ")
    assert decode_cursor(cursor)[1] == "?&=/+ id with ünïcode"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!!",
        "é",
        b64(b"[]"),
        b64(b"null"),
        b64(b'{"created": "2026-01-05T09:00:00+00:00", "id": "x"}'),
        b64(b'"ab"'),
        b64(b'["2026-01-05T09:00:00+00:00", "x", "extra"]'),
        b64(b'["2026-01-05T09:00:00", "naive"]'),
        b64(b'["2026-01-05T09:00:00+00:00", 7]'),
        b64(b'["2026-01-05T09:00:00+00:00", "x\\u0000y"]'),  # a NUL: no id has one
        b64(b'["2026-01-05T09:00:00+00:00", "x\\ud800"]'),  # a lone surrogate: no text
        b64(b'["0001-01-01T00:00:00+01:00", "x"]'),  # the year 0 in UTC
        b64(b'["9999-12-31T23:59:59-01:00", "x"]'),  # the year 10000 in UTC
        b64(b'["not a moment", "x"]'),
        b64(b'[20260105, "x"]'),
        b64(b"\xff\xfe\xfd"),
    ],
)
def test_a_cursor_the_server_did_not_issue_is_a_validation_error_naming_cursor(cursor):
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(cursor)
    assert caught.value.errors == {"cursor": ["invalid cursor"]}
    assert caught.value.to_problem()["code"] == "validation_failed"


def test_a_deeply_nested_cursor_is_a_validation_error_not_a_crash():
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(b64(b"[" * 5000))
    assert "cursor" in caught.value.errors


def test_a_short_page_has_no_next_cursor():
    rows = [SimpleNamespace(created_at=datetime(2026, 1, 5, tzinfo=UTC), id=str(i)) for i in "ab"]
    assert page_of(rows, 2).next_cursor is None
    assert page_of(rows, 2).items == rows


def test_the_extra_row_is_trimmed_and_the_cursor_points_at_the_last_row_kept():
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [SimpleNamespace(created_at=moment, id=name) for name in "abc"]
    page = page_of(rows, 2)
    assert page.items == rows[:2]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == (moment, "b")


# Keyset paging over the people table


def _fill(app, account_id: str, admin_id: str) -> None:
    """Add people at three moments: before, at and after the factory's own people."""
    node = app.extensions["trustdesk"]
    now = node.clock.now()
    admin = PeopleStore(db.session, AccountScope(account_id)).get(admin_id)
    who = principal_of(admin, "test")
    for offset, count in ((timedelta(hours=-1), 3), (timedelta(0), 5), (timedelta(seconds=1), 2)):
        clock = FakeClock(now + offset)
        work = Work(db.session, who.scope, who.actor, clock, node.jobs, node.settings)
        for n in range(count):
            People(work, node.passwords).create(
                f"p{offset.total_seconds():+.0f}-{n}@{account_id}.test", f"P {n}", ["end_user"]
            )
    db.session.commit()


def _read_all(store: PeopleStore, limit: int) -> list[Person]:
    seen, cursor = [], None
    for _ in range(100):
        page = store.page(cursor, limit)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 3, 14])
def test_paging_returns_every_row_once_in_created_then_id_order(app, limit):
    account = make_account(app)
    with app.app_context():
        _fill(app, account.id, account.admin.id)
        store = PeopleStore(db.session, AccountScope(account.id))
        everyone = list(db.session.scalars(select(Person)))
        assert len(everyone) == 14
        assert len({p.created_at for p in everyone}) == 3  # most rows tie on created_at

        seen = _read_all(store, limit)

        expected = sorted(everyone, key=lambda p: (p.created_at, p.id))
        assert [p.id for p in seen] == [p.id for p in expected]


def test_paging_newest_first_is_the_exact_reverse(app):
    account = make_account(app)
    with app.app_context():
        _fill(app, account.id, account.admin.id)
        PeopleStore(db.session, AccountScope(account.id))  # binds the scope
        seen, cursor = [], None
        while True:
            query = keyset(select(Person), Person, cursor, 4, newest_first=True)
            page = page_of(list(db.session.scalars(query)), 4)
            seen.extend(page.items)
            if (cursor := page.next_cursor) is None:
                break
        oldest_first = sorted(seen, key=lambda p: (p.created_at, p.id))
        assert [p.id for p in seen] == [p.id for p in reversed(oldest_first)]
        assert len({p.id for p in seen}) == 14


def test_a_cursor_in_another_offset_continues_at_the_same_row(app):
    account = make_account(app)
    with app.app_context():
        _fill(app, account.id, account.admin.id)
        store = PeopleStore(db.session, AccountScope(account.id))
        first = store.page(None, 4)
        assert first.next_cursor is not None
        moment, row_id = decode_cursor(first.next_cursor)
        shifted = encode_cursor(moment.astimezone(timezone(timedelta(hours=-7))), row_id)
        assert [p.id for p in store.page(shifted, 4).items] == [
            p.id for p in store.page(first.next_cursor, 4).items
        ]


def test_paging_a_table_with_a_bad_cursor_is_a_validation_error(app):
    account = make_account(app)
    with app.app_context():
        store = PeopleStore(db.session, AccountScope(account.id))
        with pytest.raises(ValidationFailed):
            store.page("not-a-cursor", 10)
