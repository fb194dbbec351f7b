"""People, teams and tokens: the rules, the audit trail, no HTTP.

Every change writes its audit event in the same transaction. Validation here covers the
domain rules, so the CLI gets the same answers as the REST API.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from account_node.context import Work
from account_node.db import new_id
from account_node.errors import Conflict, ValidationFailed
from account_node.identity.models import ROLES, Person, Team, TeamMember
from account_node.identity.passwords import Passwords, password_problems
from account_node.identity.store import PeopleStore, TeamStore, TokenStore
from account_node.identity.tokens import issue_token_secret
from account_node.pagination import Page
from account_node.zones import is_zone_name, unknown_zone

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# A person named in a body who is not of this account: an invalid field (as the
# requests service words it), whether made up or another account's.
NO_SUCH_PERSON = "no such person in this account"


def person_snapshot(person: Person) -> dict[str, Any]:
    """What the audit log keeps of a person: never a password hash."""
    return {
        "email": person.email,
        "name": person.name,
        "roles": sorted(person.roles),
        "active": person.active,
        "time_zone": person.time_zone,
    }


def check_person_fields(fields: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "email" in fields and not EMAIL_RE.match(fields["email"] or ""):
        errors["email"] = ["not a valid e-mail address"]
    if "name" in fields and not (fields["name"] or "").strip():
        errors["name"] = ["must not be empty"]
    if "roles" in fields:
        unknown = sorted(set(fields["roles"]) - set(ROLES))
        if unknown:
            errors["roles"] = [f"unknown roles {', '.join(unknown)}; roles are {', '.join(ROLES)}"]
        elif not fields["roles"]:
            errors["roles"] = ["a person needs at least one role"]
    if "time_zone" in fields and not is_zone_name(fields["time_zone"]):
        errors["time_zone"] = [unknown_zone(fields["time_zone"])]
    if fields.get("password") is not None:
        problems = password_problems(fields["password"])
        if problems:
            errors["password"] = problems
    return errors


class TeamInUse(Conflict):
    code = "team_in_use"
    title = "The team is still in use"


class People:
    def __init__(self, work: Work, passwords: Passwords) -> None:
        self.work = work
        self.store = PeopleStore(work.session, work.scope)
        self.passwords = passwords

    def get(self, person_id: str) -> Person:
        return self.store.get(person_id)

    def page(self, cursor: str | None, limit: int, role: str | None = None) -> Page[Person]:
        return self.store.page(cursor, limit, role)

    def create(
        self,
        email: str,
        name: str,
        roles: list[str],
        password: str | None = None,
        time_zone: str = "UTC",
        person_id: str | None = None,
    ) -> Person:
        email = (email or "").strip().lower()
        fields = {"email": email, "name": name, "roles": roles, "password": password}
        errors = check_person_fields({**fields, "time_zone": time_zone})
        if not errors and self.store.by_email(email):
            errors["email"] = ["a person with this e-mail already exists in this account"]
        if errors:
            raise ValidationFailed(errors=errors)
        person = Person(
            id=person_id or new_id(),
            email=email,
            name=name.strip(),
            roles=sorted(set(roles)),
            time_zone=time_zone,
            password_hash=self.passwords.hash(password) if password else None,
            created_at=self.work.clock.now(),
        )
        self.store.add(person)
        self.work.record("person.create", "person", person.id, after=person_snapshot(person))
        return person

    def update(self, person_id: str, **changes: Any) -> Person:
        person = self.store.get(person_id)
        # A zone stored before names had to be IANA ones (``localtime``, say) may be sent
        # back unchanged, with the rest of what was read, as calendars' may.
        kept = "time_zone" in changes and changes["time_zone"] == person.time_zone
        errors = check_person_fields(
            {k: v for k, v in changes.items() if k != "time_zone" or not kept}
        )
        if errors:
            raise ValidationFailed(errors=errors)
        before = person_snapshot(person)
        # Hashed first: the guard below may take the account's lock, held till commit.
        new_hash = self.passwords.hash(changes["password"]) if changes.get("password") else None
        self._guard_last_admin(person, changes)
        for name in ("name", "time_zone", "active"):
            if name in changes:
                setattr(person, name, changes[name])
        if "roles" in changes:
            person.roles = sorted(set(changes["roles"]))
        if new_hash is not None:
            person.password_hash = new_hash
            person.failed_logins, person.locked_until = 0, None
            # A reset ends the person's sessions; in SQL, not from the value read before
            # the hash, so that a sign-out meanwhile cannot cancel it out.
            person.session_epoch = Person.session_epoch + 1
        self.store.session.flush()
        after = person_snapshot(person)
        if changes.get("password"):
            after["password_changed"] = True
        self.work.record("person.update", "person", person.id, before=before, after=after)
        return person

    def _guard_last_admin(self, person: Person, changes: dict[str, Any]) -> None:
        demoted = "roles" in changes and "admin" not in changes["roles"]
        deactivated = changes.get("active") is False
        losing_admin = "admin" in person.roles and (demoted or deactivated)
        if losing_admin and self.store.admins_left(excluding=person.id) == 0:
            raise Conflict("an account must keep at least one active admin")


def team_snapshot(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "description": team.description,
        "shares_requests": team.shares_requests,
    }


class Teams:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = TeamStore(work.session, work.scope)
        self.people = PeopleStore(work.session, work.scope)

    def get(self, team_id: str) -> Team:
        return self.store.get(team_id)

    def page(self, cursor: str | None, limit: int) -> Page[Team]:
        return self.store.page(cursor, limit)

    def create(
        self,
        name: str,
        description: str = "",
        member_ids: list[str] | None = None,
        shares_requests: bool = False,
    ) -> Team:
        self._check_name(name)
        known = self.people.known_ids(member_ids or [])
        unknown = [i for i, person_id in enumerate(member_ids or []) if person_id not in known]
        if unknown:
            raise ValidationFailed(errors={f"member_ids.{i}": [NO_SUCH_PERSON] for i in unknown})
        team = Team(
            name=name.strip(),
            description=description,
            shares_requests=shares_requests,
            created_at=self.work.clock.now(),
        )
        self.store.add(team)
        self.work.record("team.create", "team", team.id, after=team_snapshot(team))
        # A new team has no members yet: no lookups, one flush for all of them.
        members = list(dict.fromkeys(member_ids or []))
        self.store.session.add_all(TeamMember(team_id=team.id, person_id=p) for p in members)
        self.store.session.flush()
        for person_id in members:
            self.work.record("team.member_add", "team", team.id, after={"person_id": person_id})
        self.store.session.refresh(team)
        return team

    def update(self, team_id: str, **changes: Any) -> Team:
        team = self.store.get(team_id)
        before = team_snapshot(team)
        if "name" in changes and (changes["name"] or "").strip() != team.name:
            self._check_name(changes["name"])
            team.name = changes["name"].strip()
        if "description" in changes:
            team.description = changes["description"]
        if "shares_requests" in changes:
            team.shares_requests = bool(changes["shares_requests"])
        self.store.session.flush()
        self.work.record("team.update", "team", team.id, before=before, after=team_snapshot(team))
        return team

    def delete(self, team_id: str) -> None:
        """Delete a team no offering or request names. What names one lives in the
        services above this layer, so their foreign keys tell: the delete is refused as
        a whole (the unit of work rolls back), with a reason that stays true on retry."""
        team = self.store.get(team_id)
        before, name = team_snapshot(team), team.name
        self.store.remove_members(team.id)
        self.store.session.delete(team)
        try:
            self.store.session.flush()
        except IntegrityError as exc:
            raise TeamInUse(
                f"team {name} still routes offerings or requests; route them to another team first"
            ) from exc
        self.work.record("team.delete", "team", team_id, before=before)

    def add_member(self, team_id: str, person_id: str) -> Team:
        """Add a person; ``person_id`` is a field of the call, not a path: one that names
        no one of this account is an invalid field, a 422, not a 404."""
        team = self.store.get(team_id)
        if not self._known(person_id):
            raise ValidationFailed(errors={"person_id": [NO_SUCH_PERSON]})
        self._join(team, person_id)
        self.store.session.refresh(team)
        return team

    def _join(self, team: Team, person_id: str) -> None:
        """Make a known person a member, audited; a member already is left alone."""
        if self.store.membership(team.id, person_id) is None:
            self.store.session.add(TeamMember(team_id=team.id, person_id=person_id))
            self.store.session.flush()
            self.work.record("team.member_add", "team", team.id, after={"person_id": person_id})

    def remove_member(self, team_id: str, person_id: str) -> Team:
        team = self.store.get(team_id)
        membership = self.store.membership(team.id, person_id)
        if membership is None:
            raise self.people.not_found(f"person {person_id} is not a member of this team")
        self.store.session.delete(membership)
        self.store.session.flush()
        self.work.record("team.member_remove", "team", team.id, before={"person_id": person_id})
        self.store.session.refresh(team)
        return team

    def _known(self, person_id: str) -> bool:
        return self.people.find(person_id) is not None

    def _check_name(self, name: str) -> None:
        if not (name or "").strip():
            raise ValidationFailed(errors={"name": ["must not be empty"]})
        if self.store.by_name(name.strip()):
            raise ValidationFailed(errors={"name": ["a team with this name already exists"]})


class Tokens:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = TokenStore(work.session, work.scope)
        self.people = PeopleStore(work.session, work.scope)

    def issue(self, person_id: str, name: str, days: int | None = None) -> tuple[Any, str]:
        """Create a token; the secret is returned once and only its hash is kept."""
        person = self.people.get(person_id)
        if not (name or "").strip():
            raise ValidationFailed(errors={"name": ["must not be empty"]})
        days = self.work.settings.token_default_days if days is None else days
        if days < 0 or days > 3650:
            raise ValidationFailed(errors={"days": ["must be between 0 (never) and 3650"]})
        now = self.work.clock.now()
        token, plaintext = issue_token_secret(self.work.scope.account_id, person.id)
        token.name = name.strip()
        token.created_at = now
        token.expires_at = now + timedelta(days=days) if days else None
        self.store.add(token)
        self.work.record(
            "token.issue", "token", token.id, after={"person_id": person.id, "name": token.name}
        )
        return token, plaintext

    def revoke(self, token_id: str, *, owner_id: str | None = None) -> None:
        token = self.store.get(token_id)
        if owner_id is not None and token.person_id != owner_id:
            raise self.store.not_found(f"token {token_id} not found")
        if token.revoked_at is None:
            # The audit chain's head first, then the token's row: the order in which any
            # write made with that token takes them (its last use is written at commit).
            # The other way round, revoking a token while it was in use deadlocked.
            self.work.record("token.revoke", "token", token.id, before={"name": token.name})
            token.revoked_at = self.work.clock.now()
            self.store.session.flush()

    def for_person(self, person_id: str) -> list[Any]:
        return self.store.for_person(person_id)
