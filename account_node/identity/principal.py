"""Who is asking, and the role checks every endpoint makes."""

from __future__ import annotations

from dataclasses import dataclass

from account_node.audit.service import Actor
from account_node.errors import Forbidden
from account_node.tenancy import AccountScope


@dataclass(frozen=True)
class Principal:
    """An authenticated person of one account, with their roles there."""

    person_id: str
    account_id: str
    name: str
    email: str
    roles: frozenset[str]
    via: str = "token"

    @property
    def scope(self) -> AccountScope:
        return AccountScope(self.account_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.person_id, self.account_id, f"{self.name} <{self.email}>")

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def require(self, *roles: str) -> None:
        if not self.has(*roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
