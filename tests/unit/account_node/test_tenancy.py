"""Tenancy is structural: a session acts for one account, reads and writes of scoped
models outside it are refused, another account's ids look exactly like missing ones, and
on PostgreSQL the row-level-security setting follows the scope within a transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from account_node.db import db, new_id
from account_node.errors import NotFound, ScopeViolation
from account_node.identity.models import Account, Person, Team
from account_node.identity.store import PeopleStore, PersonNotFound
from account_node.tenancy import (
    UNSCOPED,
    AccountScope,
    bind_scope,
    clear_scope,
    current_scope,
    prebuilt,
)
from tests.factories.accounts import make_account


def rls_setting(session) -> str | None:
    return session.execute(text("SELECT current_setting('app.account_id', true)")).scalar()


def a_team(app, account_id: str | None, name: str = "Intruders") -> Team:
    return Team(
        account_id=account_id,
        name=name,
        description="",
        created_at=app.extensions["trustdesk"].clock.now(),
    )


def test_an_account_scope_needs_an_account_id():
    with pytest.raises(ValueError, match="account id"):
        AccountScope("")


def test_querying_a_scoped_model_without_a_scope_raises(app):
    make_account(app)
    with app.app_context():
        session = db.session()
        assert current_scope(session) is None
        with pytest.raises(ScopeViolation, match="without an account scope"):
            session.scalars(select(Person)).all()


def test_a_node_level_model_needs_no_scope(app):
    account = make_account(app)
    with app.app_context():
        ids = set(db.session.scalars(select(Account.id)))
        assert account.id in ids


def test_a_scoped_query_sees_only_its_own_account(app):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        bind_scope(db.session, AccountScope(mine.id))
        people = list(db.session.scalars(select(Person)))
        assert {p.account_id for p in people} == {mine.id}
        assert len(people) == 4
        assert db.session.get(Person, theirs.admin.id) is None


def _all_people():
    return select(Person)


def test_a_prebuilt_statement_sees_only_the_account_it_was_built_for(app):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        for account in (mine, theirs):
            bind_scope(db.session, AccountScope(account.id))
            people = list(db.session.scalars(prebuilt(_all_people, account.id)))
            assert {p.account_id for p in people} == {account.id}
        # Run while the session acts for another account, the session's criterion is
        # added too: a statement built for one account never reads another's rows.
        people = list(db.session.scalars(prebuilt(_all_people, mine.id)))
        assert people == []
        assert prebuilt(_all_people, mine.id) is prebuilt(_all_people, mine.id)


def test_a_prebuilt_statement_writes_only_valid_account_ids_into_its_sql():
    """Kept statements carry their account id as a literal (cheaper to execute); an id
    that is not a valid account id stays a bound value, whatever it holds."""
    assert "= 'acct-1'" in str(prebuilt(_all_people, "acct-1"))
    hostile = "x' OR '1'='1"
    sql = str(prebuilt(_all_people, hostile))
    assert hostile not in sql
    assert ":account_id" in sql


def test_clearing_the_scope_makes_scoped_queries_raise_again(app):
    account = make_account(app)
    with app.app_context():
        bind_scope(db.session, AccountScope(account.id))
        assert current_scope(db.session()) == AccountScope(account.id)
        clear_scope(db.session)
        assert current_scope(db.session()) is None
        with pytest.raises(ScopeViolation):
            db.session.scalars(select(Person)).first()


def test_inserting_a_row_for_another_account_raises(app):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        bind_scope(db.session, AccountScope(mine.id))
        db.session.add(a_team(app, theirs.id))
        with pytest.raises(ScopeViolation, match="insert of Team into another account"):
            db.session.flush()
        db.session.rollback()


def test_inserting_a_scoped_row_without_a_scope_raises(app):
    account = make_account(app)
    with app.app_context():
        db.session.add(a_team(app, account.id))
        with pytest.raises(ScopeViolation, match="insert of Team without an account scope"):
            db.session.flush()
        db.session.rollback()


def test_a_new_row_without_an_account_takes_the_scope(app):
    account = make_account(app)
    with app.app_context():
        bind_scope(db.session, AccountScope(account.id))
        team = a_team(app, None, name="Scoped")
        db.session.add(team)
        db.session.flush()
        assert team.account_id == account.id
        db.session.rollback()


def test_moving_a_row_into_another_account_raises(app):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        bind_scope(db.session, AccountScope(mine.id))
        person = db.session.get(Person, mine.end_user.id)
        person.account_id = theirs.id
        with pytest.raises(ScopeViolation, match="change of Person outside the account scope"):
            db.session.flush()
        db.session.rollback()


def test_another_accounts_id_is_not_found_exactly_like_a_missing_id(app):
    mine, theirs = make_account(app), make_account(app)
    missing = new_id()
    with app.app_context():
        store = PeopleStore(db.session, AccountScope(mine.id))
        with pytest.raises(NotFound) as foreign:
            store.get(theirs.admin.id)
        with pytest.raises(NotFound) as absent:
            store.get(missing)
        assert type(foreign.value) is type(absent.value) is PersonNotFound
        assert foreign.value.to_problem() == {
            **absent.value.to_problem(),
            "detail": absent.value.detail.replace(missing, theirs.admin.id),
        }
        assert store.find(theirs.admin.id) is None
        assert store.get(mine.admin.id).id == mine.admin.id


def test_a_store_binds_its_scope_to_the_session(app):
    account = make_account(app)
    with app.app_context():
        PeopleStore(db.session, AccountScope(account.id))
        assert current_scope(db.session()) == AccountScope(account.id)


def test_rebinding_the_scope_inside_a_transaction_moves_the_rls_setting(postgres_app):
    first, second = make_account(postgres_app), make_account(postgres_app)
    with postgres_app.app_context():
        session = db.session()
        bind_scope(session, AccountScope(first.id))
        assert rls_setting(session) == first.id
        assert session.execute(text("SELECT DISTINCT account_id FROM people")).scalars().all() == [
            first.id
        ]
        assert session.in_transaction()

        bind_scope(session, AccountScope(second.id))
        assert session.in_transaction()  # the same transaction, a new setting
        assert rls_setting(session) == second.id
        assert session.execute(text("SELECT DISTINCT account_id FROM people")).scalars().all() == [
            second.id
        ]

        clear_scope(session)
        assert rls_setting(session) == ""
        assert session.execute(text("SELECT count(*) FROM people")).scalar() == 0


def test_the_rls_setting_is_set_again_when_the_next_transaction_begins(postgres_app):
    account = make_account(postgres_app)
    with postgres_app.app_context():
        session = db.session()
        bind_scope(session, AccountScope(account.id))
        assert rls_setting(session) == account.id
        session.commit()
        assert rls_setting(session) == account.id  # a new transaction, the same scope


def test_a_fresh_session_starts_with_an_empty_rls_setting(postgres_app):
    account = make_account(postgres_app)
    with postgres_app.app_context():
        bind_scope(db.session, AccountScope(account.id))
        assert rls_setting(db.session) == account.id
        db.session.commit()
    with postgres_app.app_context():
        assert rls_setting(db.session) == ""


def test_on_postgresql_an_unscoped_orm_query_still_sees_no_rows(postgres_app):
    make_account(postgres_app)
    with postgres_app.app_context():
        query = select(Person).execution_options(**{UNSCOPED: True})
        assert db.session.scalars(query).all() == []
