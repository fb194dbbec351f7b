"""Who is asking, and the role checks every endpoint makes."""

from __future__ import annotations

from dataclasses import dataclass

from account_node.audit.service import ACTOR_NAME_MAX, Actor
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
        """The person as the audit log names them, ``Name <email>``, in at most
        ``ACTOR_NAME_MAX`` characters: a name (200) and an e-mail (254) can hold more,
        and such a person could change nothing on PostgreSQL. A long name is shortened
        first, so that the e-mail still tells who it was."""
        label = f"{self.name} <{self.email}>"
        if len(label) > ACTOR_NAME_MAX:
            room = max(0, ACTOR_NAME_MAX - len(self.email) - 4)
            label = f"{self.name[:room]}… <{self.email}>"
        return Actor(self.person_id, self.account_id, label)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def require(self, *roles: str) -> None:
        if not self.has(*roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
