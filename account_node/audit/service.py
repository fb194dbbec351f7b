"""Recording and reading the audit log.

``record`` runs in the caller's transaction: the event commits or rolls back with the
change it describes. Appending locks the account's chain head row until commit, so
concurrent writers of one account queue up instead of forking the chain; other accounts
are not blocked. On PostgreSQL it is one statement: lock the head, take the next number,
let the database finish the event's hash from the template Python computed (see
``chain.hash_template``), move the head and insert the event. Elsewhere three: an UPDATE
that locks the head and reads its number and hash, the INSERT, then the head moved to the
event, number and hash at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    Insert,
    Table,
    Text,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from account_node.audit.chain import (
    BELOW_ONE,
    HASHED_FIELDS,
    ChainReport,
    event_hash,
    hash_template,
    json_template,
    verify_chain,
)
from account_node.audit.models import GENESIS, AuditEvent, AuditHead
from account_node.clock import Clock
from account_node.errors import ScopeViolation
from account_node.tenancy import AccountScope, ScopedStore

_HEADS: Table = AuditHead.__table__  # type: ignore[assignment]
_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]


class Extent(NamedTuple):
    """An account's chain head and its stored events, as of one moment."""

    head_seq: int
    stored: int
    lowest: int | None
    first_beyond_head: int | None


ACTOR_NAME_MAX = 254  # audit_events.actor_name and request_events.actor_name


@dataclass(frozen=True)
class Actor:
    """The authenticated person behind a change. There is no anonymous actor.

    ``vouched_by`` names the trusted account (and node) whose signature vouched for a
    person of another account acting through the federation.
    """

    person_id: str
    account_id: str
    name: str
    vouched_by: str | None = None

    def __post_init__(self) -> None:
        # As stored with every event and timeline entry (``actor_name``): a longer name
        # failed each write of its person on PostgreSQL (see ``Principal.actor``).
        if len(self.name) > ACTOR_NAME_MAX:
            object.__setattr__(self, "name", self.name[: ACTOR_NAME_MAX - 1] + "…")

    def is_person(self, person_id: str | None) -> bool:
        """Whether this actor is the local person ``person_id``. A person of another
        account, vouched for over a trust, never is, whatever id their node gives them:
        ids are only unique within one account's node."""
        return self.vouched_by is None and person_id == self.person_id


class AuditStore(ScopedStore[AuditEvent]):
    model = AuditEvent

    def take_next(self) -> tuple[int, str]:
        """The next sequence number and the previous event's hash, the head row locked.

        Write, not read: an UPDATE (that changes nothing) takes the row lock on PostgreSQL
        and the database write lock on SQLite (where FOR UPDATE does nothing), so
        concurrent writers of one account queue up instead of reading the same head. The
        head moves, number and hash at once, in ``append`` once the event is written: a
        head's hash never changes at the same number (the guards of 0016 refuse it).
        """
        taken = self._lock_head()
        if taken is None:
            self.create_head()
            taken = self._lock_head()
            if taken is None:
                raise RuntimeError("the audit chain head could not be created")
        return taken[0] + 1, taken[1]

    def create_head(self) -> None:
        """Before the account's first event: two may race to create the head; the
        loser's savepoint rolls back and it takes the winner's row."""
        try:
            with self.session.begin_nested():
                self.session.execute(
                    insert(AuditHead).values(account_id=self.scope.account_id, seq=0, hash=GENESIS)
                )
        except IntegrityError:
            pass

    def _lock_head(self) -> tuple[int, str] | None:
        # Core, not the ORM: no identity map to keep in step, and one compiled statement.
        # The account is named explicitly since the ORM criterion only covers entities.
        statement = (
            update(_HEADS)
            .where(_HEADS.c.account_id == self.scope.account_id)
            .values(seq=_HEADS.c.seq)
            .returning(_HEADS.c.seq, _HEADS.c.hash)
        )
        row = self.session.execute(statement).first()
        return (int(row[0]), str(row[1])) if row is not None else None

    def append(self, fields: dict[str, Any]) -> None:
        """Write the event (its seq taken by ``take_next``) and make it the head."""
        if fields["account_id"] != self.scope.account_id:
            raise ScopeViolation("audit event for another account")
        move = (
            update(_HEADS)
            .where(_HEADS.c.account_id == self.scope.account_id)
            .values(seq=fields["seq"], hash=fields["hash"])
        )
        self.session.execute(insert(_EVENTS).values(**fields))
        self.session.execute(move)

    def append_next(self, fields: dict[str, Any]) -> tuple[int, str, str] | None:
        """PostgreSQL: write the event as the head's successor in one statement; returns
        its (seq, prev_hash, hash), or None when the account has no chain head yet."""
        row = self.session.execute(_APPEND_NEXT, self.append_params(fields)).first()
        return (int(row[0]), str(row[1]), str(row[2])) if row is not None else None

    def append_params(
        self, fields: dict[str, Any], after_holes: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The parameters of ``append_statement(after_holes=...)`` for the event ``fields``
        (``after_holes``: keys of ``after`` the statement fills in, see there)."""
        if fields["account_id"] != self.scope.account_id:
            raise ScopeViolation("audit event for another account")
        after_holes = tuple(sorted(after_holes))  # in the order the text holds them
        template = hash_template(fields, after_holes)
        expected = (*(f"after.{key}" for key in after_holes), "prev_hash", "seq")
        if template.holes != expected:  # RFC 8785 orders "after" before "prev_hash"
            raise RuntimeError(f"the audit event's holes came out as {template.holes}")
        # Bind names differ from column names: an UPDATE would take those as its SET.
        params = {f"event_{name}": value for name, value in fields.items()}
        params.update({f"hash_{n}": part for n, part in enumerate(template.parts)})
        if after_holes:
            del params["event_after"]
            after = json_template(fields["after"], after_holes)
            if after.holes != expected[: len(after_holes)]:
                raise RuntimeError(f"the audit event's after came out as {after.holes}")
            params.update({f"after_{n}": part for n, part in enumerate(after.parts)})
        params["head_account"] = self.scope.account_id
        return params

    def head(self) -> AuditHead | None:
        # Fresh from the database: appends move the head with SQL, not through the ORM.
        query = select(AuditHead).execution_options(populate_existing=True)
        return self.session.scalars(query).first()

    def extent(self) -> Extent:
        """The head's number and what is stored around it, read together: one statement
        sees one state of the database, whatever commits meanwhile."""
        head = func.coalesce(
            select(_HEADS.c.seq)
            .where(_HEADS.c.account_id == self.scope.account_id)
            .scalar_subquery(),
            0,
        )
        beyond = case((AuditEvent.seq > head, AuditEvent.seq))
        row = self.session.execute(
            select(head, func.count(), func.min(AuditEvent.seq), func.min(beyond))
        ).one()
        return Extent(int(row[0]), int(row[1]), row[2], row[3])

    def hash_at(self, seq: int) -> str | None:
        """The stored hash of event ``seq`` (what this chain says now, for witnesses)."""
        return self.session.scalars(select(AuditEvent.hash).where(AuditEvent.seq == seq)).first()

    def newest(self, after_seq: int | None, limit: int, action: str | None) -> list[AuditEvent]:
        """The chain's events, newest first: numbered from 1 to the head. A row stored
        outside that range is no event of the log (``verify`` reports it as a break)."""
        head = select(_HEADS.c.seq).where(_HEADS.c.account_id == self.scope.account_id)
        query = (
            select(AuditEvent)
            .where(AuditEvent.seq >= 1, AuditEvent.seq <= head.scalar_subquery())
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
        if after_seq is not None:
            query = query.where(AuditEvent.seq < after_seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(self.session.scalars(query))

    def in_order(self, up_to: int | None = None, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every event up to ``up_to``, from the lowest number stored (below 1 too)."""
        last: int | None = None
        while True:
            query = select(AuditEvent)
            if last is not None:
                query = query.where(AuditEvent.seq > last)
            if up_to is not None:
                query = query.where(AuditEvent.seq <= up_to)
            rows = list(self.session.scalars(query.order_by(AuditEvent.seq).limit(batch)))
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].seq


def append_statement(
    after_holes: dict[str, ColumnElement[int]] | None = None, source: Any = None
) -> Insert:
    """Lock the head, take its successor's number, hash the event and insert it.

    ``after_holes`` maps keys of the event's ``after`` to SQL integers that fill them in,
    columns of ``source`` (a CTE with an ``account_id`` column): a statement that also
    writes the change the event describes (a request and its new number) can so append
    its audit event too, taking the two locks in one round trip. The event is written
    only if ``source`` holds a row of the head's account. Its parameters come from
    ``AuditStore.append_params``.
    """
    holes = dict(sorted((after_holes or {}).items()))  # in the order the text holds them
    # FOR UPDATE: a writer that waited reads the head its predecessor committed.
    reading = select(_HEADS.c.account_id, _HEADS.c.seq, _HEADS.c.hash).where(
        _HEADS.c.account_id == bindparam("head_account")
    )
    if holes:
        # Read through ``source``: the database runs a statement's parts in no fixed
        # order, and this makes the head's lock come after whatever ``source`` locks
        # (a request's number), as it does for every other writer (no deadlock).
        reading = reading.where(_HEADS.c.account_id == source.c.account_id)
    old = reading.with_for_update(of=_HEADS).cte("old")
    seq = old.c.seq + 1
    canonical = _filled(
        "hash", [*(cast(v, Text) for v in holes.values()), old.c.hash, cast(seq, Text)]
    )
    moving = (
        update(_HEADS)
        .where(_HEADS.c.account_id == old.c.account_id)  # UPDATE .. FROM old
        .values(seq=seq, hash=func.encode(func.sha256(func.convert_to(canonical, "UTF8")), "hex"))
    )
    if holes:
        moving = moving.where(source.c.account_id == old.c.account_id)
    head = moving.returning(
        _HEADS.c.account_id, _HEADS.c.seq, _HEADS.c.hash, old.c.hash.label("prev_hash")
    ).cte("head")
    given = [name for name in HASHED_FIELDS if name not in ("seq", "prev_hash")]
    values: list[ColumnElement[Any]] = [
        bindparam(f"event_{name}", type_=_EVENTS.c[name].type) for name in given
    ]
    if holes:
        values[given.index("after")] = cast(
            _filled("after", [cast(v, Text) for v in holes.values()]), JSON
        )
    rows = select(*values, head.c.seq, head.c.prev_hash, head.c.hash)
    if holes:
        rows = rows.where(source.c.account_id == head.c.account_id)
    written = insert(_EVENTS).from_select([*given, "seq", "prev_hash", "hash"], rows)
    return written.returning(_EVENTS.c.seq, _EVENTS.c.prev_hash, _EVENTS.c.hash)


def _filled(name: str, holes: list[ColumnElement[str]]) -> ColumnElement[str]:
    """A ``Template``'s text in SQL: its parts (parameters ``name_0``, ``name_1``, ...)
    around the values of its holes."""
    text: ColumnElement[str] = bindparam(f"{name}_0", type_=Text)
    for n, hole in enumerate(holes, start=1):
        text = text + hole + bindparam(f"{name}_{n}", type_=Text)
    return text


_APPEND_NEXT = append_statement()


class AuditLog:
    def __init__(self, session: Session, scope: AccountScope, clock: Clock) -> None:
        self.store = AuditStore(session, scope)
        self.scope = scope
        self.clock = clock

    def record(
        self,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEvent:
        fields = self.event_fields(actor, action, target_type, target_id, before, after)
        if self.store.session.get_bind().dialect.name == "postgresql":
            taken = self.store.append_next(fields)
            if taken is None:
                self.store.create_head()
                taken = self.store.append_next(fields)
            if taken is None:
                raise RuntimeError("the audit chain head could not be created")
            fields["seq"], fields["prev_hash"], fields["hash"] = taken
        else:
            fields["seq"], fields["prev_hash"] = self.store.take_next()
            fields["hash"] = event_hash(fields)
            self.store.append(fields)
        # What was written, for the caller to read; the row itself was inserted above.
        return AuditEvent(**fields)

    def event_fields(
        self,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An event's content, as ``record`` writes it (for a statement that appends it
        itself: see ``append_statement``)."""
        return {
            "account_id": self.scope.account_id,
            "at": self.clock.now(),
            "actor_id": actor.person_id,
            "actor_account_id": actor.account_id,
            "actor_name": actor.name,
            "vouched_by": actor.vouched_by,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "before": before,
            "after": after,
        }

    def page(
        self, after_seq: int | None = None, limit: int = 50, action: str | None = None
    ) -> list[AuditEvent]:
        return self.store.newest(after_seq, limit, action)

    def verify(self) -> ChainReport:
        """The chain from 1 to its recorded head, and nothing stored outside that range.

        The head is a row like any other: deleted, or moved back, it hid every event
        after it from a check that read only up to it (identity review), and an event
        forged at its successor's number, or below 1, was listed and never checked
        (audit review). So the events stored are then counted against the head as it
        stands, read together in one statement: an append moves the head in the
        transaction that writes the event, so events committed meanwhile are covered,
        and checked by the next run. An account's chain is never empty either: its first
        event, ``account.create``, commits with the account; an empty one was wiped.
        """
        head = self.store.head()
        recorded = (head.seq, head.hash) if head else (0, GENESIS)
        events = (
            {f: getattr(e, f) for f in (*HASHED_FIELDS, "hash")}
            for e in self.store.in_order(up_to=recorded[0])
        )
        report = verify_chain(events, recorded)
        if not report.ok:
            return report
        now = self.store.extent()
        if now.lowest is not None and now.lowest < 1:
            return _broken(replace(report, head_seq=0, head_hash=GENESIS), now.lowest, BELOW_ONE)
        if now.first_beyond_head is not None:
            return _broken(report, now.first_beyond_head, "events beyond the recorded head")
        if now.stored != now.head_seq:
            counted = f"the head counts {now.head_seq} events, {now.stored} are stored"
            return _broken(report, recorded[0] + 1, counted)
        if report.events == 0:
            return _broken(report, 1, "the chain is empty: account.create is missing")
        return report


def _broken(report: ChainReport, seq: int, reason: str) -> ChainReport:
    return replace(report, ok=False, first_broken_seq=seq, reason=reason)
