"""What the node needs of PostgreSQL beyond SQL: its cursor, and a server that keeps
statistics.

The cursor describes a result only when someone reads the description. psycopg builds
``cursor.description`` anew on every access, one ``Column`` object per column with five
driver calls each, and SQLAlchemy reads it once per statement. For statements it has
compiled before (all of the node's hot paths: they are cached), it only checks that
there *is* a description and then uses the result metadata it cached with the compiled
statement. A create reads 69 columns in its three statements: building their ``Column``
objects cost 6 % of the create's CPU in the node, for nothing.

Here the description is a sequence that holds the result it describes and reads it
only when indexed or iterated (a statement SQLAlchemy has not seen yet, a caller of
the raw DB-API), so it stays exact even if the cursor has run another statement since.
Its items are DB-API 7-tuples: name, type OID, display size (None), internal size,
precision, scale and nullability (None: libpq does not say).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import pq
from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

_DESCRIBED = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)

Description = tuple[str, int, None, int, None, None, None]


class LazyDescription(Sequence[Description]):
    __slots__ = ("_columns", "_encoding", "_result")

    def __init__(self, result: pq.abc.PGresult, encoding: str) -> None:
        self._result = result
        self._encoding = encoding
        self._columns: list[Description] | None = None

    def __len__(self) -> int:
        return self._result.nfields

    @overload
    def __getitem__(self, index: int) -> Description: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Description]: ...
    def __getitem__(self, index: int | slice) -> Description | Sequence[Description]:
        return self._read()[index]

    def __iter__(self) -> Iterator[Description]:
        return iter(self._read())

    def _read(self) -> list[Description]:
        if self._columns is None:
            result = self._result
            self._columns = [
                (_name(result.fname(i), i, self._encoding), result.ftype(i), None,
                 result.fsize(i), None, None, None)
                for i in range(result.nfields)
            ]  # fmt: skip
        return self._columns


def _name(raw: bytes | None, index: int, encoding: str) -> str:
    # COPY results have columns without names; psycopg calls them column_<n> too.
    return raw.decode(encoding) if raw else f"column_{index + 1}"


class NodeCursor(psycopg.Cursor[Any]):
    @property
    def description(self) -> LazyDescription | None:  # type: ignore[override]
        result = self.pgresult
        if result is None or not (result.nfields or result.status in _DESCRIBED):
            return None
        return LazyDescription(result, self._encoding)


def warn_without_autovacuum(connection: Connection) -> bool:
    """Log a warning if the server's autovacuum is off; returns whether it is.

    The node's tables then never get statistics, and the planner sizes every table as
    ten pages, in which any index on the account column finds "one row" as cheaply as a
    unique one. Plans made so (kept per connection: the foreign-key checks of each
    insert, the node's prepared statements) can read all of an account's requests to
    find one, and stay until the table is analyzed: on the requests bench without
    statistics, the database's CPU per create grew by half in 8,000 creates. Nothing
    the node can do about it: ANALYZE needs the tables' owner, which the node's runtime
    role is not.
    """
    if connection.dialect.name != "postgresql":
        return False
    if connection.scalar(text("SHOW autovacuum")) != "off":
        return False
    log.warning(
        "PostgreSQL's autovacuum is off: the node's tables get no statistics unless an "
        "operator runs ANALYZE, and queries on large accounts slow down as they grow. "
        "Turn autovacuum on (the default), or ANALYZE regularly as the tables' owner."
    )
    return True
