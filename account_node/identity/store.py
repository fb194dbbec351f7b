"""Queries for people, teams and tokens, always inside one account scope."""

from __future__ import annotations

from sqlalchemy import Select, String, bindparam, cast, delete, func, select, update
from sqlalchemy.orm import selectinload

from account_node.errors import NotFound
from account_node.identity.models import Account, ApiToken, Person, Team, TeamMember
from account_node.pagination import Page, keyset, page_of
from account_node.tenancy import ScopedStore, prebuilt


class PersonNotFound(NotFound):
    code = "person_not_found"


class TeamNotFound(NotFound):
    code = "team_not_found"


class TokenNotFound(NotFound):
    code = "token_not_found"


class PeopleStore(ScopedStore[Person]):
    model = Person
    not_found = PersonNotFound

    def by_email(self, email: str) -> Person | None:
        return self.session.scalars(select(Person).where(Person.email == email.lower())).first()

    def page(self, cursor: str | None, limit: int, role: str | None = None) -> Page[Person]:
        query = select(Person).options(selectinload(Person.teams))
        if role:
            # Roles are a JSON list of fixed names; its text form is portable to match.
            query = query.where(cast(Person.roles, String).like(f'%"{role}"%'))
        return page_of(list(self.session.scalars(keyset(query, Person, cursor, limit))), limit)

    def known_ids(self, person_ids: list[str]) -> set[str]:
        """Which of ``person_ids`` name a person of this account: one query for a list."""
        if not person_ids:
            return set()
        query = select(Person.id).where(Person.id.in_(set(person_ids)))
        return set(self.session.scalars(query))

    def admins_left(self, excluding: str) -> int:
        """Active admins other than ``excluding``, counted under the account's row lock:
        two admins demoting each other at once each counted the other, and both
        changes left the account with none. The lock (an UPDATE that changes nothing:
        a row lock on PostgreSQL, the write lock on SQLite) holds until commit, so the
        second waits and counts what the first did: from the rows, not from people the
        session already holds (the caller, loaded before the wait)."""
        self.session.execute(
            update(Account)
            .where(Account.id == self.scope.account_id)
            .values(active=Account.active)
            .execution_options(synchronize_session=False)
        )
        roles = self.session.scalars(
            select(Person.roles).where(Person.active.is_(True), Person.id != excluding)
        )
        return sum(1 for held in roles if "admin" in held)


class TeamStore(ScopedStore[Team]):
    model = Team
    not_found = TeamNotFound

    def by_name(self, name: str) -> Team | None:
        return self.session.scalars(select(Team).where(Team.name == name)).first()

    def page(self, cursor: str | None, limit: int) -> Page[Team]:
        query = select(Team).options(selectinload(Team.members))
        return page_of(list(self.session.scalars(keyset(query, Team, cursor, limit))), limit)

    def membership(self, team_id: str, person_id: str) -> TeamMember | None:
        return self.session.get(TeamMember, (team_id, person_id))

    def member_count(self, team_id: str) -> int:
        query = select(func.count()).select_from(TeamMember).where(TeamMember.team_id == team_id)
        return int(self.session.scalar(query) or 0)

    def teams_of(self, person_id: str) -> tuple[str, ...]:
        query = select(TeamMember.team_id).where(TeamMember.person_id == person_id)
        return tuple(self.session.scalars(query))

    def request_sharers(self, person_id: str) -> tuple[str, ...]:
        """Everyone who shares a request-sharing team with ``person_id`` (themselves too)."""
        mine = select(TeamMember.team_id).where(TeamMember.person_id == person_id)
        sharing = select(Team.id).where(Team.shares_requests.is_(True), Team.id.in_(mine))
        query = select(TeamMember.person_id).where(TeamMember.team_id.in_(sharing)).distinct()
        return tuple(self.session.scalars(query))

    def remove_members(self, team_id: str) -> None:
        self.session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))


class TokenStore(ScopedStore[ApiToken]):
    model = ApiToken
    not_found = TokenNotFound

    def with_holder(self, token_id: str) -> tuple[ApiToken, Person, bool] | None:
        """The token, the person it belongs to, and whether their account is active."""
        query = prebuilt(_token_with_holder, self.scope.account_id)
        row = self.session.execute(query, {"token_id": token_id}).first()
        return (row[0], row[1], bool(row[2])) if row is not None else None

    def for_person(self, person_id: str) -> list[ApiToken]:
        query = (
            select(ApiToken).where(ApiToken.person_id == person_id).order_by(ApiToken.created_at)
        )
        return list(self.session.scalars(query))


def _token_with_holder() -> Select[ApiToken, Person, bool]:
    """Every API call runs this: built once per account (see ``prebuilt``)."""
    return (
        select(ApiToken, Person, Account.active)
        .join(
            Person,
            (Person.id == ApiToken.person_id) & (Person.account_id == ApiToken.account_id),
        )
        .join(Account, Account.id == ApiToken.account_id)
        .where(ApiToken.id == bindparam("token_id"))
    )
