"""Turning a bearer token or a password into a ``Principal``.

Failures are deliberately uniform (one message for an unknown account, person, token
or wrong secret) so that probing does not reveal which accounts or people exist.
Repeated wrong passwords lock the person out for a while.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import update
from sqlalchemy.orm import Session

from account_node.clock import Clock
from account_node.errors import NotAuthenticated
from account_node.identity.models import Account, ApiToken, Person
from account_node.identity.passwords import Passwords
from account_node.identity.principal import Principal
from account_node.identity.store import PeopleStore, TokenStore
from account_node.identity.tokens import parse_token, secret_matches
from account_node.settings import Settings
from account_node.tenancy import AccountScope, bind_scope
from account_node.unit_of_work import write_last

TOKEN_TOUCH_INTERVAL = timedelta(minutes=10)


class InvalidToken(NotAuthenticated):
    code = "invalid_token"
    title = "The access token is missing, unknown, expired or revoked"


class LoginFailed(NotAuthenticated):
    code = "login_failed"
    title = "Wrong account, e-mail or password"


class LockedOut(NotAuthenticated):
    code = "locked_out"
    title = "Too many failed logins; try again later"


def principal_of(person: Person, via: str) -> Principal:
    return Principal(
        person_id=person.id,
        account_id=person.account_id,
        name=person.name,
        email=person.email,
        roles=frozenset(person.roles),
        via=via,
    )


class Authenticator:
    def __init__(self, session: Session, clock: Clock, passwords: Passwords, settings: Settings):
        self.session = session
        self.clock = clock
        self.passwords = passwords
        self.settings = settings

    def bearer(self, value: str) -> Principal:
        parsed = parse_token(value)
        if parsed is None:
            raise InvalidToken()
        # One query for the token, its person and their account: this runs on every call.
        found = TokenStore(self.session, AccountScope(parsed.account_id)).with_holder(
            parsed.token_id
        )
        if found is None:
            raise InvalidToken()
        token, person, account_active = found
        now = self.clock.now()
        if not secret_matches(token, parsed.secret) or token.revoked_at or not account_active:
            raise InvalidToken()
        if token.expires_at is not None and token.expires_at <= now:
            raise InvalidToken("the access token has expired")
        if not person.active:
            raise InvalidToken()
        if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
            # Coarse on purpose: a write per request would serialise busy clients. Written
            # last, so the call holds no lock while it works (``write_last``).
            write_last(self.session, partial(_touch, token.id, now))
        _keep(self.session, person)
        return principal_of(person, "token")

    def password(self, account_id: str, email: str, password: str) -> Principal:
        """Check a password; the caller commits even on failure (the counter must stick)."""
        if not self._account_active(account_id):
            self.passwords.verify(None, password)
            raise LoginFailed()
        bind_scope(self.session, AccountScope(account_id))
        person = PeopleStore(self.session, AccountScope(account_id)).by_email(email.strip().lower())
        now = self.clock.now()
        if person is not None and _locked(person.locked_until, now):
            raise LockedOut()
        ok = self.passwords.verify(person.password_hash if person else None, password)
        if person is None or not person.active or not ok:
            if person is not None:
                self._count_failure(person, now)
            raise LoginFailed()
        person.failed_logins, person.locked_until = 0, None
        if self.passwords.needs_rehash(person.password_hash or ""):
            person.password_hash = self.passwords.hash(password)
        return principal_of(person, "session")

    def session_person(self, account_id: str, person_id: str) -> Principal | None:
        """The person a portal session names, if they and their account are still active."""
        if not self._account_active(account_id):
            return None
        person = PeopleStore(self.session, AccountScope(account_id)).find(person_id)
        if person is None or not person.active:
            return None
        _keep(self.session, person)
        return principal_of(person, "session")

    def _count_failure(self, person: Person, now: datetime) -> None:
        person.failed_logins += 1
        if person.failed_logins >= self.settings.login_max_failures:
            person.locked_until = now + timedelta(minutes=self.settings.login_lockout_minutes)
            person.failed_logins = 0
        self.session.flush()

    def _account_active(self, account_id: str) -> bool:
        account = self.session.get(Account, account_id)
        return account is not None and account.active


def _touch(token_id: str, now: datetime, session: Session) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def _keep(session: Session, person: Person) -> None:
    """Hold the authenticated person for the rest of the unit of work. The session's
    identity map only holds weak references: without this, a service that needs the
    caller's row again (the requester of a new request, usually) would query for it."""
    session.info[CALLER_KEY] = person


CALLER_KEY = "trustdesk.caller"


def _locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now
