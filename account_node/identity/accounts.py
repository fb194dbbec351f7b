"""Creating accounts (tenants) on this node.

An account is born with its first admin, and that admin is the person its first audit
events name: there is never a change without an authenticated person behind it, not even
the first one. The operator who ran the command is noted as the channel (``via``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from account_node.audit.service import Actor
from account_node.clock import Clock
from account_node.context import Work
from account_node.db import new_id
from account_node.errors import NotFound, ValidationFailed
from account_node.identity.models import Account, Person
from account_node.identity.passwords import Passwords
from account_node.identity.service import People
from account_node.jobs import JobQueue
from account_node.settings import Settings
from account_node.tenancy import ACCOUNT_ID_RE, UNSCOPED, AccountScope

KINDS = ("msp", "customer")


# Built once, so SQLAlchemy memoises their cache keys; ``_HOSTED`` serves the check every
# call a peer makes begins with. Accounts are node-level rows: no account criterion.
_BY_ID = (
    select(Account)
    .where(Account.id == bindparam("account_id"))
    .execution_options(**{UNSCOPED: True})
)
_HOSTED = select(Account.__table__.c.id).where(Account.__table__.c.id == bindparam("account_id"))


class AccountNotFound(NotFound):
    code = "account_not_found"


class Accounts:
    def __init__(
        self,
        session: Session,
        clock: Clock,
        jobs: JobQueue,
        settings: Settings,
        passwords: Passwords,
    ) -> None:
        self.session = session
        self.clock = clock
        self.jobs = jobs
        self.settings = settings
        self.passwords = passwords

    def get(self, account_id: str) -> Account:
        account = self.session.scalars(_BY_ID, {"account_id": account_id}).first()
        if account is None:
            raise AccountNotFound(f"account {account_id} not found")
        return account

    def require(self, account_id: str) -> None:
        """Raise ``AccountNotFound`` unless this node hosts ``account_id``: the check
        every call a peer makes begins with, so a plain row, no entity."""
        if self.session.execute(_HOSTED, {"account_id": account_id}).first() is None:
            raise AccountNotFound(f"account {account_id} not found")

    def all(self) -> list[Account]:
        return list(self.session.scalars(select(Account).order_by(Account.id)))

    def create(
        self,
        account_id: str,
        name: str,
        admin_email: str,
        admin_name: str,
        admin_password: str,
        kind: str = "customer",
        via: str = "cli",
    ) -> tuple[Account, Person]:
        errors: dict[str, list[str]] = {}
        if not ACCOUNT_ID_RE.match(account_id or ""):
            errors["id"] = [
                "1-40 lowercase letters, digits or hyphens, not starting or ending with a hyphen"
            ]
        elif self.session.get(Account, account_id) is not None:
            errors["id"] = ["an account with this id already exists on this node"]
        if not (name or "").strip():
            errors["name"] = ["must not be empty"]
        if kind not in KINDS:
            errors["kind"] = [f"must be one of {', '.join(KINDS)}"]
        if errors:
            raise ValidationFailed(errors=errors)
        account = Account(id=account_id, name=name.strip(), kind=kind, created_at=self.clock.now())
        self.session.add(account)
        self.session.flush()
        # The admin's id is chosen first so that the events recording the admin's own
        # creation, and the account's, already name the admin as the actor.
        admin_id = new_id()
        actor = Actor(admin_id, account_id, f"{admin_name.strip()} <{admin_email.strip().lower()}>")
        work = Work(
            self.session, AccountScope(account_id), actor, self.clock, self.jobs, self.settings
        )
        work.record(
            "account.create", "account", account_id, after={**_snapshot(account), "via": via}
        )
        admin = People(work, self.passwords).create(
            admin_email, admin_name, ["admin"], admin_password, person_id=admin_id
        )
        return account, admin


def _snapshot(account: Account) -> dict[str, Any]:
    return {"name": account.name, "kind": account.kind}


def active_account_ids(session: Session) -> list[str]:
    """Every active account hosted here: what a node-wide periodic job goes through."""
    query = select(Account.id).where(Account.active).order_by(Account.id)
    return list(session.scalars(query))
