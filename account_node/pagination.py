"""Keyset (cursor) pagination: constant cost per page however deep the client reads.

A cursor is an opaque, URL-safe encoding of the last row's sort key
``(created_at, id)``; clients must not build one. OFFSET would rescan every skipped row.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_

from account_node.errors import ValidationFailed
from account_node.unstorable import unstorable

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The sort key a cursor holds, or a 422 naming ``cursor``.

    A client can send any base64url text, so the key is checked as input: a moment the
    database can hold (within the years 1 to 9999 in UTC: ``0001-01-01T00:00:00+01:00``
    parses, but its moment lies in the year 0) and an id it can store (no NUL, no lone
    surrogate)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or not isinstance(row_id, str) or unstorable(row_id):
            raise ValueError(cursor)
        return moment.astimezone(UTC), row_id
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ValidationFailed(
            "the cursor is not one this server issued", errors={"cursor": ["invalid cursor"]}
        ) from exc


def keyset(
    query: Select[Any], model: Any, cursor: str | None, limit: int, *, newest_first: bool = False
) -> Select[Any]:
    """Order ``query`` by (created_at, id), start after ``cursor``, fetch one row extra."""
    created_col, id_col = model.created_at, model.id
    if newest_first:
        query = query.order_by(created_col.desc(), id_col.desc())
    else:
        query = query.order_by(created_col, id_col)
    query = query.limit(limit + 1)
    if cursor:
        created, row_id = decode_cursor(cursor)
        if newest_first:
            after = or_(created_col < created, and_(created_col == created, id_col < row_id))
        else:
            after = or_(created_col > created, and_(created_col == created, id_col > row_id))
        query = query.where(after)
    return query


def page_of(rows: list[T], limit: int) -> Page[T]:
    """Trim the extra row ``keyset`` fetched; its presence means there is a next page."""
    if len(rows) <= limit:
        return Page(rows, None)
    last: Any = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(last.created_at, last.id))
