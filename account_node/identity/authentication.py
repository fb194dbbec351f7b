"""Turning a bearer token or a password into a ``Principal``.

Failures are deliberately uniform (one message for an unknown account, person, token
or wrong secret, and for a person locked out) so that probing does not reveal which
accounts or people exist. Repeated wrong passwords lock the person out for a while.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update
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
    title = (
        "Wrong account, e-mail or password; after too many failed attempts, signing in "
        "pauses for a while"
    )


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
        """Check a password. Commits: each check first takes one of the person's attempts
        and commits it, before the slow hash comparison (``_take_attempt``).

        Counted after the comparison, parallel guesses each read the count before any
        of them wrote it: 32 guesses at once were all checked, and none locked the
        person out. Taken first, each takes its own attempt, so no more than
        ``login_max_failures`` are checked per lockout, and no row or database lock is
        held while hashing. Every failure does the same work and gives one answer:
        locked out, unknown and wrong alike."""
        if not self._account_active(account_id):
            self.passwords.verify(None, password)
            raise LoginFailed()
        bind_scope(self.session, AccountScope(account_id))
        person = PeopleStore(self.session, AccountScope(account_id)).by_email(email.strip().lower())
        if person is None or not self._take_attempt(person, self.clock.now()):
            self.passwords.verify(None, password)
            raise LoginFailed()
        if not self.passwords.verify(person.password_hash, password) or not person.active:
            raise LoginFailed()
        cleared: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if self.passwords.needs_rehash(person.password_hash or ""):
            cleared["password_hash"] = self.passwords.hash(password)  # before any lock
        self.session.execute(
            update(Person)
            .where(Person.id == person.id, Person.account_id == person.account_id)
            .values(**cleared)
            .execution_options(synchronize_session=False)
        )
        self.session.expire(person, list(cleared))
        return principal_of(person, "session")

    def session_person(self, account_id: str, person_id: str, epoch: Any) -> Principal | None:
        """The person a portal session names, if they and their account are still active
        and the session is of their current ``session_epoch`` (not one ended since by
        signing out or a new password)."""
        if not self._account_active(account_id):
            return None
        person = PeopleStore(self.session, AccountScope(account_id)).find(person_id)
        if person is None or not person.active or epoch != person.session_epoch:
            return None
        _keep(self.session, person)
        return principal_of(person, "session")

    def session_epoch(self, account_id: str, person_id: str) -> int:
        """What a session made now holds (see ``session_person``)."""
        person = PeopleStore(self.session, AccountScope(account_id)).get(person_id)
        return person.session_epoch

    def end_sessions(self, account_id: str, person_id: str) -> None:
        """End every portal session of the person: signing out ends the copies of the
        cookie too (a browser's, or one taken from it), which a signed cookie alone
        cannot."""
        bind_scope(self.session, AccountScope(account_id))
        self.session.execute(
            update(Person)
            .where(Person.id == person_id, Person.account_id == account_id)
            .values(session_epoch=Person.session_epoch + 1)
            .execution_options(synchronize_session=False)
        )

    def _take_attempt(self, person: Person, now: datetime) -> bool:
        """Count an attempt at ``person``'s password, in a transaction of its own; False
        while they are locked out. The attempt that reaches ``login_max_failures`` is
        still checked, and locks the person out unless it succeeds (a success clears
        the count and the lock)."""
        mine = (Person.id == person.id) & (Person.account_id == person.account_id)
        open_ = (Person.locked_until.is_(None)) | (Person.locked_until <= now)
        taken = self.session.execute(
            update(Person)
            .where(mine, open_)
            .values(failed_logins=Person.failed_logins + 1)
            .returning(Person.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar()
        if taken is not None and taken >= self.settings.login_max_failures:
            lockout = now + timedelta(minutes=self.settings.login_lockout_minutes)
            self.session.execute(
                update(Person)
                .where(mine)
                .values(failed_logins=0, locked_until=lockout)
                .execution_options(synchronize_session=False)
            )
        self.session.commit()  # the count sticks, and nothing is held while hashing
        return taken is not None

    def _account_active(self, account_id: str) -> bool:
        account = self.session.get(Account, account_id)
        return account is not None and account.active


def _touch(token_id: str, now: datetime, session: Session) -> None:
    """Note the token's use, unless another transaction holds its row (a revocation, or
    another call's note): a last-used time is worth no wait, let alone a deadlock. On
    SQLite, which has no row locks, a plain update."""
    free = select(ApiToken.id).where(ApiToken.id == token_id).with_for_update(skip_locked=True)
    session.execute(update(ApiToken).where(ApiToken.id.in_(free)).values(last_used_at=now))


def _keep(session: Session, person: Person) -> None:
    """Hold the authenticated person for the rest of the unit of work. The session's
    identity map only holds weak references: without this, a service that needs the
    caller's row again (the requester of a new request, usually) would query for it."""
    session.info[CALLER_KEY] = person


CALLER_KEY = "trustdesk.caller"
