"""Accounts with one person per role and a token each, made through the services.

Going through the services (not raw inserts) means factory-made data carries the same
audit trail and validation as real data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask import Flask

from account_node.context import Work
from account_node.db import db
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import principal_of
from account_node.identity.models import ROLES
from account_node.identity.service import People, Tokens

PASSWORD = "correct-horse-battery"


@dataclass
class Member:
    id: str
    email: str
    token: str
    roles: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class AccountFixture:
    id: str
    members: dict[str, Member] = field(default_factory=dict)

    def __getattr__(self, role: str) -> Member:
        try:
            return self.members[role]
        except KeyError as exc:
            raise AttributeError(role) from exc


def make_account(app: Flask, kind: str = "customer", prefix: str = "acct") -> AccountFixture:
    """A new account with an admin, a specialist, an end user and an auditor."""
    account_id = f"{prefix}-{secrets.token_hex(4)}"
    node = app.extensions["trustdesk"]
    fixture = AccountFixture(account_id)
    with app.app_context():
        accounts = Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords)
        _, admin = accounts.create(
            account_id,
            f"Account {account_id}",
            f"admin@{account_id}.test",
            "Ada Admin",
            PASSWORD,
            kind=kind,
        )
        who = principal_of(admin, "test")
        work = Work(db.session, who.scope, who.actor, node.clock, node.jobs, node.settings)
        people = {"admin": admin}
        for role in ROLES:
            if role != "admin":
                people[role] = People(work, node.passwords).create(
                    f"{role}@{account_id}.test", role.replace("_", " ").title(), [role], PASSWORD
                )
        for role, person in people.items():
            _, secret = Tokens(work).issue(person.id, "tests")
            fixture.members[role] = Member(person.id, person.email, secret, list(person.roles))
        db.session.commit()
        db.session.remove()
    return fixture
