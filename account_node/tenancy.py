"""Customer isolation, enforced twice (DESIGN section 3).

1. In the ORM: a session is bound to one ``AccountScope``; every SELECT, UPDATE and
   DELETE touching an ``AccountScoped`` model gets ``account_id = :scope`` added, and a
   flush refuses to insert or move a row into another account. A query of a scoped model
   with no scope bound raises instead of silently reading every tenant.
2. In PostgreSQL: row-level security policies (created by the migrations) compare
   ``account_id`` with ``current_setting('app.account_id', true)``. The setting is made per
   transaction (``set_config(..., true)``), never per connection, because a pooled
   connection would otherwise carry one tenant's scope into the next request.

Stores take the scope in their constructor, so a call site cannot forget it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

import psycopg
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import ForeignKey, String, bindparam, event, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    scoped_session,
    with_loader_criteria,
)
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlalchemy.sql.base import Executable

from account_node.errors import NotFound, ScopeViolation
from account_node.pagination import Page, keyset, page_of

SCOPE_KEY = "trustdesk.account_id"
# What an account id may be: lowercase letters, digits and inner hyphens, 40 at most.
ACCOUNT_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RLS_SETTING = "app.account_id"
UNSCOPED = "trustdesk_unscoped"


@dataclasses.dataclass(frozen=True)
class AccountScope:
    """The one account a unit of work acts for."""

    account_id: str

    def __post_init__(self) -> None:
        if not self.account_id:
            raise ValueError("an AccountScope needs an account id")


class AccountScoped:
    """Mixin for every model that belongs to an account.

    Most scoped tables have a unique constraint that starts with ``account_id`` (the
    composite key other tables' foreign keys point at), which serves every lookup by
    account; an index on ``account_id`` alone would only cost each insert one more
    B-tree write. So a table gets that index only if it sets ``__account_id_index__``;
    a test checks that every scoped table has some index starting with ``account_id``.
    """

    __account_id_index__: ClassVar[bool] = False

    @declared_attr
    def account_id(cls) -> Mapped[str]:
        return mapped_column(
            String(40),
            ForeignKey("accounts.id", ondelete="RESTRICT"),
            index=cls.__account_id_index__,
            nullable=False,
        )


def real_session(session: Session | scoped_session[Session]) -> Session:
    """The session behind Flask-SQLAlchemy's thread-local proxy, or the session itself."""
    return session() if isinstance(session, scoped_session) else session


def bind_scope(session: Session, scope: AccountScope) -> None:
    """Make ``session`` act for ``scope`` from now on (ORM filter and RLS setting)."""
    session = real_session(session)
    current = session.info.get(SCOPE_KEY)
    if current == scope.account_id:
        return
    session.info[SCOPE_KEY] = scope.account_id
    if session.in_transaction():
        for connection in _open_connections(session):
            _set_rls(connection, scope.account_id)


def clear_scope(session: Session) -> None:
    session = real_session(session)
    session.info.pop(SCOPE_KEY, None)
    if session.in_transaction():
        for connection in _open_connections(session):
            _set_rls(connection, "")


def current_scope(session: Session) -> AccountScope | None:
    account_id = session.info.get(SCOPE_KEY)
    return AccountScope(account_id) if account_id else None


def _open_connections(session: Session) -> list[Connection]:
    transaction = session.get_transaction()
    if transaction is None:
        return []
    return [conn for conn, *_ in transaction._connections.values()]


def _set_rls(connection: Connection, account_id: str) -> None:
    if connection.dialect.name == "postgresql":
        # Straight to the driver: the statement needs no compiling (psycopg's parameter
        # style, a fixed setting name).
        connection.exec_driver_sql(_SET_RLS, {"value": account_id})


_SET_RLS = f"SELECT set_config('{RLS_SETTING}', %(value)s, true)"


def _begin_with_rls(connection: Connection, account_id: str) -> None:
    """Open the transaction and set its scope in one round trip to PostgreSQL.

    Every request's first statement would otherwise cost three: psycopg's ``BEGIN``, the
    setting, then the statement itself. Where psycopg has not begun yet and would begin
    with a plain ``BEGIN`` (no isolation level, read-only or deferrable asked for), both
    go as one simple query; psycopg then sees the transaction open and sends no ``BEGIN``
    of its own. The id is inlined only when it is an account id (``ACCOUNT_ID_RE``: no
    quote can occur); anything else takes the parameterised way."""
    driver = connection.connection.driver_connection
    if (
        not isinstance(driver, psycopg.Connection)
        or driver.autocommit
        or driver.pgconn.transaction_status != TransactionStatus.IDLE
        or (driver.isolation_level, driver.read_only, driver.deferrable) != (None, None, None)
        or (account_id and not ACCOUNT_ID_RE.fullmatch(account_id))
    ):
        _set_rls(connection, account_id)
        return
    result = driver.pgconn.exec_(
        f"BEGIN; SELECT set_config('{RLS_SETTING}', '{account_id}', true)".encode()
    )
    if result.status != ExecStatus.TUPLES_OK:
        # Fail as a statement of SQLAlchemy's own: a lost connection (the database
        # restarted) then invalidates the whole pool at once, not one request per
        # pooled connection. On a live one the statement fails too (the transaction
        # is aborted); the last line is for the impossible case.
        _set_rls(connection, account_id)
        raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)


@event.listens_for(Session, "after_begin")
def _rls_on_begin(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    # A savepoint lives inside a transaction whose scope is already set (``SET LOCAL``
    # lasts the whole transaction, a savepoint rolled back included): nothing to send.
    if connection.dialect.name == "postgresql" and not transaction.nested:
        _begin_with_rls(connection, session.info.get(SCOPE_KEY, ""))


@event.listens_for(Session, "do_orm_execute")
def _add_account_criterion(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(UNSCOPED) or state.is_column_load or state.is_relationship_load:
        return
    account_id = state.session.info.get(SCOPE_KEY)
    if not account_id:
        if _touches_scoped_model(state):
            raise ScopeViolation("query of an account-scoped model without an account scope")
        return
    if state.execution_options.get(_CRITERION_OF) == account_id:
        return  # built with this account's criterion already (see _by_id)
    # The criterion only ever applies to AccountScoped entities, so with a scope bound it
    # is added to every statement: cheaper than working out which ones it concerns.
    state.statement = state.statement.options(_account_criterion(account_id))


@lru_cache(maxsize=4096)
def _account_criterion(account_id: str) -> LoaderCriteriaOption:
    """One option object per account: building it (the lambda's analysis) costs more
    than the query it is added to. The account id is a bound value of the cached
    statement, so one compiled form serves every account."""
    return with_loader_criteria(
        AccountScoped,
        lambda cls: cls.account_id == account_id,
        include_aliases=True,
    )


_CRITERION_OF = "trustdesk_criterion_of"


@lru_cache(maxsize=4096)
def _inlined_account_criterion(account_id: str) -> LoaderCriteriaOption:
    """``_account_criterion`` with the account id written into the SQL as a literal.

    For the joined statements ``prebuilt`` keeps. With the id as a bound value,
    SQLAlchemy puts one annotated copy of the bind per joined entity in the statement's
    cache key and, on every execution, compares those copies pairwise by building SQL
    expressions: 14 % of a create's instructions. The price is one compiled form per
    account instead of one in all, in the engine's compiled cache (500 entries by
    default, some 30-90 KB each; nine such statements): a node with more than a few dozen
    busy hosted accounts should raise ``query_cache_size``. An id is only inlined if it is
    a valid account id, made of characters that need no quoting; anything else keeps the
    bound form.
    """
    if not ACCOUNT_ID_RE.fullmatch(account_id):
        return _account_criterion(account_id)
    literal = literal_column(f"'{account_id}'", String)
    return with_loader_criteria(
        AccountScoped, lambda cls: cls.account_id == literal, include_aliases=True
    )


@lru_cache(maxsize=8192)
def _by_id(model: type[Any], account_id: str) -> Any:
    """``model`` by its id, with ``account_id``'s criterion already applied: kept, so
    that the statement's cache key, which SQLAlchemy memoises per statement object, is
    computed once instead of on every lookup."""
    return (
        select(model)
        .where(model.id == bindparam("object_id"))
        .options(_account_criterion(account_id))
        .execution_options(**{_CRITERION_OF: account_id})
    )


StatementT = TypeVar("StatementT", bound=Executable)


@lru_cache(maxsize=8192)
def prebuilt(build: Callable[[], StatementT], account_id: str) -> StatementT:
    """The statement ``build()`` makes, with ``account_id``'s criterion already applied,
    made once per account and kept.

    For queries on hot paths (every API call authenticates; every create reads its
    offering and SLA): building a joined select, the criterion's copy of it and its cache
    key cost more CPU than the database spends answering it. ``build`` must be a
    module-level function whose statement takes its values as ``bindparam``s, so one
    compiled form serves every call of one account; the criterion still applies (RLS
    too), it is just attached once instead of per execution. Run in a session that acts
    for another account, the session's criterion is added as well, so it reads nothing.
    """
    return (
        build()
        .options(_inlined_account_criterion(account_id))
        .execution_options(  # type: ignore[return-value]
            **{_CRITERION_OF: account_id}
        )
    )


def _touches_scoped_model(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, AccountScoped) for mapper in state.all_mappers)


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, flush_context: Any, instances: Any) -> None:
    account_id = session.info.get(SCOPE_KEY)
    for obj in session.new:
        if not isinstance(obj, AccountScoped):
            continue
        if not account_id:
            raise ScopeViolation(f"insert of {type(obj).__name__} without an account scope")
        if obj.account_id is None:
            obj.account_id = account_id
        elif obj.account_id != account_id:
            raise ScopeViolation(f"insert of {type(obj).__name__} into another account")
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AccountScoped) and obj.account_id != account_id:
            raise ScopeViolation(f"change of {type(obj).__name__} outside the account scope")


ModelT = TypeVar("ModelT")


class ScopedStore(Generic[ModelT]):
    """Base of every store: bound to one session and one account scope.

    ``get`` answers ``NotFound`` for another account's id exactly as for an id that does
    not exist, so ids never reveal what other tenants have.
    """

    model: ClassVar[type[Any]]
    not_found: ClassVar[type[NotFound]] = NotFound

    def __init__(self, session: Session, scope: AccountScope) -> None:
        session = real_session(session)
        bind_scope(session, scope)
        self.session = session
        self.scope = scope

    def get(self, object_id: Any) -> ModelT:
        found = self.find(object_id)
        if found is None:
            raise self.not_found(f"{self.model.__name__.lower()} {object_id} not found")
        return found

    def find(self, object_id: Any) -> ModelT | None:
        if object_id is None:
            return None
        # Mapped classes hash by identity; mypy cannot know type[Any] does.
        query = _by_id(self.model, self.scope.account_id)  # type: ignore[arg-type]
        return self.session.scalars(query, {"object_id": object_id}).first()

    def page(self, cursor: str | None, limit: int, *criteria: Any) -> Page[ModelT]:
        """Oldest first, by cursor; ``criteria`` are extra WHERE clauses."""
        query = select(self.model).where(*criteria)
        rows = self.session.scalars(keyset(query, self.model, cursor, limit))
        return page_of(list(rows), limit)

    def add(self, obj: ModelT) -> ModelT:
        obj.account_id = self.scope.account_id  # type: ignore[attr-defined]
        self.session.add(obj)
        self.session.flush()
        return obj


def assert_isolation_holds(connection: Connection) -> None:
    """Refuse to run on PostgreSQL as a role that row-level security would not bind.

    Policies bind a role only while it can neither switch them off nor step around them.
    A superuser or a BYPASSRLS role ignores them. Whoever owns a table, or is a member
    of its owner's role, may ALTER it to NO FORCE ROW LEVEL SECURITY, switch its
    triggers off, or drop it; so may whoever owns its schema (as the database's owner
    owns ``public``). A role that may create in a schema on the search path, or create
    schemas, may put tables of its own, bound by nothing, in front of the node's. And a
    table with an ``account_id`` but no forced policy binds nobody. Each finding says
    what to run instead.
    """
    from account_node.errors import UnsafeDatabaseRole

    if connection.dialect.name != "postgresql":
        return
    findings = _role_escapes(connection) + _unpoliced_tables(connection)
    if findings:
        raise UnsafeDatabaseRole(
            "the node's database role is not bound by row-level security: " + "; ".join(findings)
        )


_RUNTIME = "connect as the runtime role (database_app_role) that `trustdesk db upgrade` grants"
_ME = text(
    "SELECT current_user AS name, rolsuper OR rolbypassrls AS free,"
    # Before PostgreSQL 16, CREATEROLE could grant itself any role but a superuser.
    " rolcreaterole AND current_setting('server_version_num')::int < 160000 AS joins"
    " FROM pg_roles WHERE rolname = current_user"
)
_OWNERS = text(
    "SELECT tableowner AS owner, count(*) AS tables FROM pg_tables"
    " WHERE schemaname = 'public' AND pg_has_role(current_user, tableowner, 'MEMBER')"
    " GROUP BY tableowner ORDER BY tableowner"
)
_PLACES = text(
    "SELECT 'database' AS kind, datname AS name, pg_get_userbyid(datdba) AS owner,"
    " pg_has_role(current_user, datdba, 'MEMBER') AS owns,"
    " has_database_privilege(oid, 'CREATE') AS creates"
    " FROM pg_database WHERE datname = current_database()"
    " UNION ALL SELECT 'schema', nspname, pg_get_userbyid(nspowner),"
    " pg_has_role(current_user, nspowner, 'MEMBER'), has_schema_privilege(oid, 'CREATE')"
    " FROM pg_namespace WHERE nspname = 'public' OR nspname = ANY (current_schemas(false))"
)
# Tables with an account, and the node-level ones with policies of their own (0011, 0012).
_UNPOLICED = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    " AND (c.relname IN ('accounts', 'seen_nonces') OR EXISTS (SELECT 1 FROM pg_attribute a"
    "  WHERE a.attrelid = c.oid AND a.attname = 'account_id' AND NOT a.attisdropped))"
    " AND NOT (c.relrowsecurity AND c.relforcerowsecurity"
    "  AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))"
    " ORDER BY c.relname"
)


def _role_escapes(connection: Connection) -> list[str]:
    me = connection.execute(_ME).one()
    if me.free:
        return [f"it is a superuser or has BYPASSRLS: {_RUNTIME}"]
    found = []
    if me.joins:
        found.append(f"it has CREATEROLE, so may join the owner: ALTER ROLE {me.name} NOCREATEROLE")
    for owner, tables in connection.execute(_OWNERS):
        if owner == me.name:
            found.append(f"it owns {tables} of the node's tables: "
                         f"run migrations as the owner and {_RUNTIME}")  # fmt: skip
        else:
            found.append(f"it is a member of {owner}, which owns {tables} of the node's tables: "
                         f"REVOKE {owner} FROM {me.name}")  # fmt: skip
    for place in connection.execute(_PLACES):
        kind, name = place.kind.upper(), place.name
        if place.owns:
            found.append(f"it owns {place.kind} {name} (as {place.owner}): "
                         f"ALTER {kind} {name} OWNER TO the role that migrates")  # fmt: skip
        elif place.creates:
            found.append(f"it may create in {place.kind} {name}: "
                         f"REVOKE CREATE ON {kind} {name} FROM PUBLIC, {me.name}")  # fmt: skip
    return found


def _unpoliced_tables(connection: Connection) -> list[str]:
    tables = list(connection.scalars(_UNPOLICED))
    if not tables:
        return []
    return [
        f"tables without row-level security enabled, forced and with a policy: {', '.join(tables)}"
        "; as the owner, ALTER TABLE ... ENABLE and FORCE ROW LEVEL SECURITY and restore the"
        " policy its migration created"
    ]
