"""Customer isolation holds in the database itself, not only in the ORM."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text

from account_node.app import create_app
from account_node.db import db
from account_node.errors import UnsafeDatabaseRole
from account_node.identity.models import Person
from account_node.tenancy import AccountScope, bind_scope
from tests.conftest import node_settings
from tests.factories.accounts import make_account


def test_raw_sql_without_the_account_setting_returns_no_rows(postgres_app, postgres_urls):
    make_account(postgres_app)
    engine = create_engine(postgres_urls[1])  # the runtime role, as the node connects
    with engine.connect() as connection:
        for table in ("people", "teams", "api_tokens", "team_members", "audit_events"):
            count = connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            assert count == 0, table
    engine.dispose()


def test_raw_sql_sees_only_the_account_in_the_setting(postgres_app, postgres_urls):
    first, second = make_account(postgres_app), make_account(postgres_app)
    engine = create_engine(postgres_urls[1])
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.account_id', :a, true)"), {"a": first.id})
        accounts = connection.scalars(text("SELECT DISTINCT account_id FROM people")).all()
    assert accounts == [first.id]
    assert second.id not in accounts
    engine.dispose()


def test_the_setting_does_not_outlive_its_transaction(postgres_app, postgres_urls):
    account = make_account(postgres_app)
    engine = create_engine(postgres_urls[1], pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.account_id', :a, true)"), {"a": account.id})
    with engine.connect() as same_pooled_connection:
        assert same_pooled_connection.scalar(text("SELECT count(*) FROM people")) == 0
    engine.dispose()


def _statements_sent(session):
    """What the node's session sends through SQLAlchemy, as a list that fills as it goes."""
    sent: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_a_transaction_is_scoped_as_it_begins_in_one_round_trip(postgres_app):
    first, second = make_account(postgres_app), make_account(postgres_app)
    with postgres_app.app_context():
        sent = _statements_sent(db.session)
        for account in (first, second):  # a pooled connection, one transaction each
            bind_scope(db.session(), AccountScope(account.id))
            setting = db.session.scalar(text("SELECT current_setting('app.account_id', true)"))
            owners = db.session.scalars(text("SELECT DISTINCT account_id FROM people")).all()
            db.session.commit()
            assert (setting, owners) == (account.id, [account.id])
        # BEGIN and the setting went together, straight to the driver, before the query.
        assert not any("set_config" in statement for statement in sent)


def test_a_scope_that_is_not_an_account_id_is_passed_as_a_parameter(postgres_app):
    odd = "o'brien'); DROP TABLE people; --"
    with postgres_app.app_context():
        sent = _statements_sent(db.session)
        bind_scope(db.session(), AccountScope(odd))
        setting = db.session.scalar(text("SELECT current_setting('app.account_id', true)"))
        people = db.session.scalar(text("SELECT count(*) FROM people"))
        db.session.rollback()
    assert (setting, people) == (odd, 0)
    assert any("set_config" in statement for statement in sent)


def test_rls_refuses_to_write_a_row_into_another_account(postgres_app, postgres_urls):
    mine, theirs = make_account(postgres_app), make_account(postgres_app)
    engine = create_engine(postgres_urls[1])
    with pytest.raises(Exception, match="row-level security"), engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.account_id', :a, true)"), {"a": mine.id})
        connection.execute(
            text(
                "INSERT INTO teams (id, name, description, created_at, account_id) "
                "VALUES ('x1', 'Intruders', '', now(), :theirs)"
            ),
            {"theirs": theirs.id},
        )
    engine.dispose()


def test_every_account_table_has_forced_row_level_security(postgres_app, postgres_urls):
    engine = create_engine(postgres_urls[0])
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity "
                "FROM pg_class c JOIN information_schema.columns col "
                "ON col.table_name = c.relname AND col.column_name = 'account_id' "
                "WHERE c.relkind = 'r' AND col.table_schema = 'public'"
            )
        ).all()
    engine.dispose()
    assert rows, "no account tables found"
    assert [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)] == []


def test_the_node_refuses_to_start_as_a_role_that_bypasses_rls(postgres_urls, clock, tmp_path):
    owner_url = postgres_urls[0]  # postgres: a superuser that owns the tables
    settings = node_settings(data_dir=str(tmp_path), database_url=owner_url)
    with pytest.raises(UnsafeDatabaseRole):
        create_app(settings, clock=clock)


def test_the_orm_adds_the_account_to_every_query(app):
    first, second = make_account(app), make_account(app)
    with app.app_context():
        bind_scope(db.session(), AccountScope(first.id))
        emails = db.session.scalars(db.select(Person.email)).all()
        db.session.rollback()
    assert emails and all(email.endswith(f"@{first.id}.test") for email in emails)
    assert not any(second.id in email for email in emails)


@pytest.mark.parametrize("path", ["/api/v1/users/{id}", "/api/v1/teams/{id}"])
def test_another_accounts_id_is_a_404_like_a_missing_one(app, client, path):
    mine, theirs = make_account(app), make_account(app)
    team = client.post("/api/v1/teams", headers=theirs.admin.headers, json={"name": "Ops"})
    foreign_id = theirs.specialist.id if "users" in path else team.get_json()["id"]
    foreign = client.get(path.format(id=foreign_id), headers=mine.admin.headers)
    missing = client.get(path.format(id="0" * 32), headers=mine.admin.headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json()["code"] == missing.get_json()["code"]


def test_a_team_cannot_take_a_member_from_another_account(app, client):
    mine, theirs = make_account(app), make_account(app)
    team = client.post("/api/v1/teams", headers=mine.admin.headers, json={"name": "Desk"})
    foreign, missing = (
        client.post(
            f"/api/v1/teams/{team.get_json()['id']}/members",
            headers=mine.admin.headers,
            json={"person_id": person_id},
        )
        for person_id in (theirs.specialist.id, "made-up")
    )
    assert foreign.status_code == missing.status_code == 422  # an invalid field, either way
    assert foreign.get_json()["errors"] == missing.get_json()["errors"]
    members = client.get(f"/api/v1/teams/{team.get_json()['id']}", headers=mine.admin.headers)
    assert members.get_json()["members"] == []


def test_lists_show_only_the_callers_account(app, client):
    mine, theirs = make_account(app), make_account(app)
    people = client.get("/api/v1/users?limit=200", headers=mine.admin.headers).get_json()
    emails = {p["email"] for p in people["items"]}
    assert {m.email for m in mine.members.values()} == emails
    assert not emails & {m.email for m in theirs.members.values()}


def test_a_transaction_scoped_to_one_account_sees_and_changes_no_other_account_row(
    postgres_app, postgres_urls
):
    """The accounts table has no account_id: its policy compares the row's id. Unscoped
    node-level work (creating accounts, listing the active ones) still sees them all."""
    mine, theirs = make_account(postgres_app), make_account(postgres_app)
    engine = create_engine(postgres_urls[1])  # the node's runtime role
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.account_id', :a, true)"), {"a": mine.id})
        seen = connection.scalars(text("SELECT id FROM accounts")).all()
        renamed = connection.execute(
            text("UPDATE accounts SET name = 'pwned', active = false WHERE id = :theirs"),
            {"theirs": theirs.id},
        ).rowcount
    with engine.begin() as connection:  # no account chosen: the node's own view
        everyone = set(connection.scalars(text("SELECT id FROM accounts")).all())
        still = connection.execute(
            text("SELECT name, active FROM accounts WHERE id = :theirs"), {"theirs": theirs.id}
        ).one()
    engine.dispose()
    assert (seen, renamed) == ([mine.id], 0)
    assert {mine.id, theirs.id} <= everyone
    assert still.name != "pwned" and still.active


def test_the_runtime_role_forgets_only_expired_nonces(postgres_app, postgres_urls):
    """The replay guard has no account; from any transaction the runtime role could have
    wiped it while signatures still verified. It may add nonces and delete expired ones."""
    engine = create_engine(postgres_urls[1])  # the node's runtime role
    live, old = f"live-{id(engine)}", f"old-{id(engine)}"
    with engine.begin() as connection:
        for nonce, minutes in ((live, 5), (old, -5)):
            connection.execute(
                text(
                    "INSERT INTO seen_nonces (keyid, nonce, expires_at) "
                    "VALUES ('msp#k1', :nonce, now() + make_interval(mins => :minutes))"
                ),
                {"nonce": nonce, "minutes": minutes},
            )
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.account_id', 'acct-x', true)"))
        forgotten = connection.execute(
            text("DELETE FROM seen_nonces WHERE nonce IN (:live, :old)"),
            {"live": live, "old": old},
        ).rowcount
    with engine.begin() as connection, pytest.raises(Exception, match="permission denied"):
        connection.execute(text("UPDATE seen_nonces SET expires_at = now() WHERE nonce = :n"),
                           {"n": live})  # fmt: skip
    with engine.begin() as connection:
        left = connection.scalars(
            text("SELECT nonce FROM seen_nonces WHERE nonce IN (:live, :old)"),
            {"live": live, "old": old},
        ).all()
    engine.dispose()
    assert (forgotten, left) == (1, [live])
