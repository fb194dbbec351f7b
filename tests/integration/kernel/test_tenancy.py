"""Row-level security binds the node's role on PostgreSQL, and the node checks it does.

The startup check is run as throwaway roles made inside a transaction that is rolled back
after each test, so every role, grant and change of owner vanishes with it; the check
reads the catalogs as ``current_user``, which ``SET LOCAL ROLE`` makes the throwaway one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from account_node.errors import UnsafeDatabaseRole
from account_node.tenancy import assert_isolation_holds
from tests.factories.accounts import make_account

Check = Callable[..., None]


@pytest.fixture
def check_as_a_new_role(postgres_urls) -> Iterator[Check]:
    """``check(*statements)``: make a role that owns nothing, run ``statements`` (with
    ``{role}``, ``{owner}``, a second role, and ``{db}`` filled in) as the superuser,
    then the startup check as the role."""
    engine = create_engine(postgres_urls[0])
    with engine.connect() as connection:
        names = {
            "role": f"td_probe_{secrets.token_hex(4)}",
            "owner": f"td_owner_{secrets.token_hex(4)}",
            "db": connection.scalar(text("SELECT current_database()")),
        }
        for name in (names["role"], names["owner"]):
            connection.execute(text(f"CREATE ROLE {name} NOSUPERUSER NOBYPASSRLS"))

        def check(*statements: str) -> None:
            for statement in statements:
                connection.execute(text(statement.format(**names)))
            connection.execute(text(f"SET LOCAL ROLE {names['role']}"))
            try:
                assert_isolation_holds(connection)
            finally:
                connection.execute(text("RESET ROLE"))

        yield check
        connection.rollback()
    engine.dispose()


def test_a_role_that_owns_nothing_and_creates_nothing_may_run_the_node(check_as_a_new_role):
    check_as_a_new_role()


def test_a_member_of_the_role_that_owns_the_tables_is_refused(check_as_a_new_role):
    """As a member it may ALTER a table to NO FORCE ROW LEVEL SECURITY, or drop it."""
    with pytest.raises(UnsafeDatabaseRole, match=r"is a member of td_owner_\w+") as refused:
        check_as_a_new_role("ALTER TABLE teams OWNER TO {owner}", "GRANT {owner} TO {role}")
    assert "REVOKE td_owner_" in str(refused.value)


def test_a_role_that_owns_a_table_itself_is_refused(check_as_a_new_role):
    with pytest.raises(
        UnsafeDatabaseRole, match="owns 1 of the node's tables: run migrations as the owner"
    ):
        check_as_a_new_role("ALTER TABLE teams OWNER TO {role}")


def test_the_owner_of_the_database_is_refused(check_as_a_new_role):
    """It owns schema public too (``pg_database_owner``), and may drop any table in it."""
    with pytest.raises(UnsafeDatabaseRole, match="owns database") as refused:
        check_as_a_new_role('ALTER DATABASE "{db}" OWNER TO {role}')
    assert "owns schema public" in str(refused.value)


def test_the_owner_of_schema_public_is_refused(check_as_a_new_role):
    with pytest.raises(UnsafeDatabaseRole, match="owns schema public"):
        check_as_a_new_role("ALTER SCHEMA public OWNER TO {role}")


def test_a_role_that_may_create_in_schema_public_is_refused(check_as_a_new_role):
    """Its own tables there would be bound by nothing."""
    with pytest.raises(UnsafeDatabaseRole, match="REVOKE CREATE ON SCHEMA public FROM PUBLIC"):
        check_as_a_new_role("GRANT CREATE ON SCHEMA public TO {role}")


def test_a_role_that_may_create_schemas_is_refused(check_as_a_new_role):
    """A schema named after it comes first on the default search path ("$user")."""
    with pytest.raises(UnsafeDatabaseRole, match="may create in database"):
        check_as_a_new_role('GRANT CREATE ON DATABASE "{db}" TO {role}')


def test_a_role_that_may_grant_itself_the_owner_is_refused_before_postgresql_16(
    check_as_a_new_role, postgres_urls
):
    engine = create_engine(postgres_urls[0])
    with engine.connect() as connection:
        version = connection.scalar(text("SELECT current_setting('server_version_num')::int"))
    engine.dispose()
    if version >= 160000:
        check_as_a_new_role("ALTER ROLE {role} CREATEROLE")  # it may only grant its own roles
        return
    with pytest.raises(UnsafeDatabaseRole, match="NOCREATEROLE"):
        check_as_a_new_role("ALTER ROLE {role} CREATEROLE")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE teams NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE teams DISABLE ROW LEVEL SECURITY",
        "DROP POLICY account_isolation ON teams",
    ],
    ids=["not forced", "disabled", "no policy"],
)
def test_a_table_with_an_account_but_no_forced_policy_is_refused(check_as_a_new_role, statement):
    with pytest.raises(UnsafeDatabaseRole, match="with a policy: teams;"):
        check_as_a_new_role(statement)


# The accounts table (0011, 0017)


def test_with_no_account_chosen_the_runtime_role_reads_every_account_and_changes_none(
    postgres_app, postgres_urls
):
    """Login and node-wide jobs look accounts up before any scope exists; nothing needs
    to change one without it, and a role that could would rename any tenant."""
    mine, theirs = make_account(postgres_app), make_account(postgres_app)
    engine = create_engine(postgres_urls[1])  # the node's runtime role
    with engine.begin() as connection:
        everyone = set(connection.scalars(text("SELECT id FROM accounts")))
        renamed = connection.execute(
            text("UPDATE accounts SET name = 'pwned', active = false WHERE id = :theirs"),
            {"theirs": theirs.id},
        ).rowcount
        deleted = connection.execute(
            text("DELETE FROM accounts WHERE id = :theirs"), {"theirs": theirs.id}
        ).rowcount
    with pytest.raises(Exception, match="row-level security"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, name, kind, active, created_at)"
                " VALUES (:theirs, 'pwned', 'customer', false, now())"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name"
            ),
            {"theirs": theirs.id},
        )
    with engine.connect() as connection:
        still = connection.execute(
            text("SELECT name, active FROM accounts WHERE id = :theirs"), {"theirs": theirs.id}
        ).one()
    engine.dispose()
    assert {mine.id, theirs.id} <= everyone
    assert (renamed, deleted) == (0, 0)
    assert still.name != "pwned" and still.active


def test_an_account_is_changed_in_its_own_scope_and_created_with_none(postgres_urls):
    """What the node does: ``admins_left`` locks its account's row in that account's
    scope; ``trustdesk account create`` inserts the row before any scope exists."""
    new = f"acct-{secrets.token_hex(4)}"
    engine = create_engine(postgres_urls[1])
    with engine.connect() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, name, kind, active, created_at)"
                " VALUES (:new, 'New', 'customer', true, now())"
            ),
            {"new": new},
        )
        connection.execute(text("SELECT set_config('app.account_id', :new, true)"), {"new": new})
        renamed = connection.execute(
            text("UPDATE accounts SET name = 'Renamed' WHERE id = :new"), {"new": new}
        ).rowcount
        connection.rollback()
    engine.dispose()
    assert renamed == 1
