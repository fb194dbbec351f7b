"""An account is born with its first admin, and its first audit events already name that
admin: there is no change without an authenticated person, not even the first."""

from __future__ import annotations

import secrets

import pytest

from account_node.audit.service import AuditLog
from account_node.db import db
from account_node.errors import NotFound, ValidationFailed
from account_node.identity.accounts import AccountNotFound, Accounts
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account

PASSWORD = "correct-horse-battery"


@pytest.fixture
def accounts(app):
    node = app.extensions["trustdesk"]
    with app.app_context():
        yield Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords)
        db.session.rollback()


def fresh_id() -> str:
    return f"unit-{secrets.token_hex(4)}"


def create(accounts: Accounts, account_id: str, **changes):
    values = {
        "name": "Acme Corp",
        "admin_email": "Ada@Acme.TEST",
        "admin_name": " Ada Lovelace ",
        "admin_password": PASSWORD,
        **changes,
    }
    return accounts.create(account_id, **values)


def test_an_account_is_created_with_its_first_admin(accounts):
    account_id = fresh_id()
    account, admin = create(accounts, account_id, kind="msp")
    assert (account.id, account.name, account.kind, account.active) == (
        account_id,
        "Acme Corp",
        "msp",
        True,
    )
    assert (admin.account_id, admin.email, admin.name, admin.roles) == (
        account_id,
        "ada@acme.test",
        "Ada Lovelace",
        ["admin"],
    )
    assert accounts.passwords.verify(admin.password_hash, PASSWORD)
    assert accounts.get(account_id) is account


def test_the_first_events_name_the_new_admin_as_actor(accounts):
    account_id = fresh_id()
    _, admin = create(accounts, account_id, via="cli:root")
    log = AuditLog(db.session, AccountScope(account_id), accounts.clock)
    events = list(log.store.in_order())
    assert [(e.seq, e.action, e.target_type, e.target_id) for e in events] == [
        (1, "account.create", "account", account_id),
        (2, "person.create", "person", admin.id),
    ]
    for event in events:
        assert (event.actor_id, event.actor_account_id, event.actor_name) == (
            admin.id,
            account_id,
            "Ada Lovelace <ada@acme.test>",
        )
        assert event.vouched_by is None
    assert events[0].after == {"name": "Acme Corp", "kind": "customer", "via": "cli:root"}
    assert events[1].after["roles"] == ["admin"]
    assert log.verify().ok


@pytest.mark.parametrize(
    "account_id",
    [
        "",
        "-acme",
        "acme-",
        "Acme",
        "ac_me",
        "ac.me",
        "ac me",
        "acmé",
        "a" * 41,
    ],
)
def test_an_account_id_outside_the_rule_is_refused(accounts, account_id):
    with pytest.raises(ValidationFailed) as caught:
        create(accounts, account_id)
    assert list(caught.value.errors) == ["id"]


@pytest.mark.parametrize("account_id", ["a", "a1", "0-9", "x" * 40, "msp-2026-hosted"])
def test_an_account_id_inside_the_rule_is_accepted(accounts, account_id):
    # Fixed ids are safe: the fixture rolls every creation back.
    account, _ = create(accounts, account_id)
    assert account.id == account_id


def test_the_refusal_states_the_rule_the_check_applies(accounts):
    # One-character ids are accepted and a trailing hyphen is refused, so say so.
    with pytest.raises(ValidationFailed) as caught:
        create(accounts, "acme-")
    assert caught.value.errors["id"] == [
        "1-40 lowercase letters, digits or hyphens, not starting or ending with a hyphen"
    ]


def test_an_account_id_in_use_on_the_node_is_refused(app, accounts):
    existing = make_account(app)
    with pytest.raises(ValidationFailed) as caught:
        create(accounts, existing.id)
    assert caught.value.errors == {"id": ["an account with this id already exists on this node"]}


def test_a_name_and_a_known_kind_are_required(accounts):
    with pytest.raises(ValidationFailed) as caught:
        create(accounts, fresh_id(), name="  ", kind="reseller")
    assert caught.value.errors == {
        "name": ["must not be empty"],
        "kind": ["must be one of msp, customer"],
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"admin_email": "not-an-email"}, "email"),
        ({"admin_password": "short"}, "password"),
        ({"admin_name": ""}, "name"),
    ],
)
def test_the_first_admin_is_validated_like_any_person(accounts, changes, field):
    with pytest.raises(ValidationFailed) as caught:
        create(accounts, fresh_id(), **changes)
    assert list(caught.value.errors) == [field]


def test_an_unknown_account_is_not_found_with_its_own_code(accounts):
    with pytest.raises(AccountNotFound) as caught:
        accounts.get("no-such-account")
    assert isinstance(caught.value, NotFound)
    assert caught.value.to_problem()["code"] == "account_not_found"


def test_all_lists_the_accounts_in_id_order(app, accounts):
    made = [make_account(app).id for _ in range(2)]
    ids = [account.id for account in accounts.all()]
    assert set(made) <= set(ids)
    assert ids == sorted(ids)
