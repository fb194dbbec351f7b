"""A bearer token or a password becomes a ``Principal``, or fails uniformly.

The authenticator gets its own ``FakeClock`` (DESIGN: time is injected) starting at the
node's now, so expiry and lockouts are tested without moving the session-wide clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from account_node.clock import FakeClock
from account_node.context import Work
from account_node.db import db
from account_node.identity.authentication import (
    TOKEN_TOUCH_INTERVAL,
    Authenticator,
    InvalidToken,
    LoginFailed,
    principal_of,
)
from account_node.identity.models import Account, ApiToken, Person
from account_node.identity.service import People, Tokens
from account_node.identity.store import PeopleStore
from account_node.identity.tokens import parse_token
from account_node.tenancy import AccountScope, bind_scope, clear_scope
from account_node.unit_of_work import rollback_keeping
from tests.factories.accounts import PASSWORD, make_account


def deactivate(account_id: str) -> None:
    """Under the account's own scope: with none chosen, the runtime role may read every
    account but change none (0017)."""
    session = db.session()
    bind_scope(session, AccountScope(account_id))
    session.get(Account, account_id).active = False
    session.commit()
    clear_scope(session)


@pytest.fixture
def node(app):
    return app.extensions["trustdesk"]


@pytest.fixture
def own_clock(node) -> FakeClock:
    return FakeClock(node.clock.now())


def authenticator(node, clock) -> Authenticator:
    return Authenticator(db.session, clock, node.passwords, node.settings)


def admin_work(node, account) -> Work:
    admin = PeopleStore(db.session, AccountScope(account.id)).get(account.admin.id)
    who = principal_of(admin, "test")
    return Work(db.session, who.scope, who.actor, node.clock, node.jobs, node.settings)


def stored_token(account, role: str) -> ApiToken:
    token_id = parse_token(account.members[role].token).token_id
    return db.session.get(ApiToken, token_id)


# Bearer tokens


def test_a_valid_token_authenticates_its_person_with_their_roles(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        principal = authenticator(node, own_clock).bearer(account.specialist.token)
        assert (principal.person_id, principal.account_id) == (account.specialist.id, account.id)
        assert principal.roles == frozenset({"specialist"})
        assert (principal.email, principal.via) == (account.specialist.email, "token")
        db.session.commit()
        assert stored_token(account, "specialist").last_used_at == own_clock.now()


def test_token_use_is_recorded_at_most_every_few_minutes(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        auth = authenticator(node, own_clock)
        auth.bearer(account.admin.token)
        db.session.commit()
        first_use = own_clock.now()
        own_clock.advance(TOKEN_TOUCH_INTERVAL)
        auth.bearer(account.admin.token)
        db.session.commit()
        assert stored_token(account, "admin").last_used_at == first_use
        own_clock.advance(timedelta(seconds=1))
        auth.bearer(account.admin.token)
        db.session.commit()
        assert stored_token(account, "admin").last_used_at == own_clock.now()


def test_token_use_is_written_as_the_call_ends_so_the_call_holds_no_lock_meanwhile(
    app, node, own_clock
):
    """On SQLite a write holds the file's lock until the commit: a call that wrote its
    token's use first would keep a peer hosted on the same node, which it calls, from
    writing its side. The use is written at the commit, or after a rollback."""
    account = make_account(app)
    with app.app_context():
        authenticator(node, own_clock).bearer(account.admin.token)
        assert not db.session.dirty and not db.session.new
        rollback_keeping(db.session)  # the call failed: it was a use all the same
        assert stored_token(account, "admin").last_used_at == own_clock.now()


def _tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(lambda account: _tampered(account.admin.token), id="wrong-secret"),
        pytest.param(lambda account: "not-a-token", id="malformed"),
        pytest.param(lambda account: "", id="empty"),
        pytest.param(
            lambda account: account.admin.token.replace(account.id, "no-such-account", 1),
            id="unknown-account",
        ),
        pytest.param(
            lambda account: f"tdp_{account.id}_{'0' * 32}_{account.admin.token[-43:]}",
            id="unknown-token-id",
        ),
    ],
)
def test_a_bad_token_is_refused_with_one_uniform_answer(app, node, own_clock, make_value):
    account = make_account(app)
    with app.app_context():
        with pytest.raises(InvalidToken) as caught:
            authenticator(node, own_clock).bearer(make_value(account))
        body = caught.value.to_problem()
        assert (body["status"], body["code"]) == (401, "invalid_token")
        assert body["detail"] == InvalidToken.title


def test_a_token_of_another_account_cannot_be_replayed_under_this_accounts_name(
    app, node, own_clock
):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        forged = theirs.admin.token.replace(theirs.id, mine.id, 1)
        with pytest.raises(InvalidToken):
            authenticator(node, own_clock).bearer(forged)


def test_a_revoked_token_is_refused(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        token_id = parse_token(account.end_user.token).token_id
        Tokens(admin_work(node, account)).revoke(token_id)
        db.session.commit()
        with pytest.raises(InvalidToken) as caught:
            authenticator(node, own_clock).bearer(account.end_user.token)
        assert caught.value.detail == InvalidToken.title


def test_a_token_works_until_the_moment_it_expires(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        _, plaintext = Tokens(admin_work(node, account)).issue(account.auditor.id, "short", days=1)
        db.session.commit()
        auth = authenticator(node, own_clock)
        own_clock.advance(timedelta(days=1) - timedelta(seconds=1))
        assert auth.bearer(plaintext).person_id == account.auditor.id
        own_clock.advance(timedelta(seconds=1))
        with pytest.raises(InvalidToken, match="expired"):
            auth.bearer(plaintext)


def test_a_token_issued_for_zero_days_never_expires(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        _, plaintext = Tokens(admin_work(node, account)).issue(account.auditor.id, "ci", days=0)
        db.session.commit()
        own_clock.advance(timedelta(days=3650))
        assert authenticator(node, own_clock).bearer(plaintext).person_id == account.auditor.id


def test_the_token_of_a_deactivated_person_is_refused(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        People(admin_work(node, account), node.passwords).update(
            account.specialist.id, active=False
        )
        db.session.commit()
        with pytest.raises(InvalidToken) as caught:
            authenticator(node, own_clock).bearer(account.specialist.token)
        assert caught.value.detail == InvalidToken.title


def test_every_token_of_an_inactive_account_is_refused(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        deactivate(account.id)
        for member in account.members.values():
            with pytest.raises(InvalidToken):
                authenticator(node, own_clock).bearer(member.token)


# Passwords


def failed_logins(account, role: str) -> int:
    PeopleStore(db.session, AccountScope(account.id))
    return db.session.get(Person, account.members[role].id).failed_logins


def test_the_right_password_authenticates_for_a_session(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        principal = authenticator(node, own_clock).password(
            account.id, account.specialist.email, PASSWORD
        )
        assert (principal.person_id, principal.via) == (account.specialist.id, "session")
        assert principal.roles == frozenset({"specialist"})


def test_the_email_is_matched_without_case_or_surrounding_space(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        email = f"  {account.admin.email.upper()} "
        principal = authenticator(node, own_clock).password(account.id, email, PASSWORD)
        assert principal.person_id == account.admin.id


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda a: (a.id, a.admin.email, "wrong-password"), id="wrong-password"),
        pytest.param(lambda a: (a.id, f"nobody@{a.id}.test", PASSWORD), id="unknown-email"),
        pytest.param(lambda a: ("no-such-account", a.admin.email, PASSWORD), id="unknown-account"),
        pytest.param(lambda a: (a.id, a.admin.email, ""), id="empty-password"),
    ],
)
def test_a_failed_login_gives_one_uniform_answer(app, node, own_clock, attempt):
    account = make_account(app)
    with app.app_context():
        with pytest.raises(LoginFailed) as caught:
            authenticator(node, own_clock).password(*attempt(account))
        body = caught.value.to_problem()
        assert (body["status"], body["code"], body["detail"]) == (
            401,
            "login_failed",
            LoginFailed.title,
        )


def test_a_wrong_password_is_counted_and_the_right_one_resets_the_count(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        auth = authenticator(node, own_clock)
        for _ in range(2):
            with pytest.raises(LoginFailed):
                auth.password(account.id, account.admin.email, "wrong-password")
            db.session.commit()
        assert failed_logins(account, "admin") == 2
        auth.password(account.id, account.admin.email, PASSWORD)
        db.session.commit()
        assert failed_logins(account, "admin") == 0


def test_a_deactivated_person_cannot_log_in_with_the_right_password(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        People(admin_work(node, account), node.passwords).update(account.end_user.id, active=False)
        db.session.commit()
        with pytest.raises(LoginFailed):
            authenticator(node, own_clock).password(account.id, account.end_user.email, PASSWORD)


def test_nobody_logs_in_to_an_inactive_account(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        deactivate(account.id)
        with pytest.raises(LoginFailed):
            authenticator(node, own_clock).password(account.id, account.admin.email, PASSWORD)


def test_too_many_failures_lock_the_person_out_even_with_the_right_password(app, node, own_clock):
    account = make_account(app)
    email = account.specialist.email
    with app.app_context():
        auth = authenticator(node, own_clock)
        for _ in range(node.settings.login_max_failures):
            with pytest.raises(LoginFailed):
                auth.password(account.id, email, "wrong-password")
            db.session.commit()  # the boundary commits failures too
            own_clock.advance(timedelta(seconds=1))

        with pytest.raises(LoginFailed) as caught:  # as a wrong password: nothing to probe
            auth.password(account.id, email, PASSWORD)
        body = caught.value.to_problem()
        assert (body["status"], body["code"]) == (401, "login_failed")
        # Other people of the account are not locked.
        assert auth.password(account.id, account.admin.email, PASSWORD).person_id == (
            account.admin.id
        )


def test_one_failure_fewer_than_the_limit_does_not_lock(app, node, own_clock):
    account = make_account(app)
    with app.app_context():
        auth = authenticator(node, own_clock)
        for _ in range(node.settings.login_max_failures - 1):
            with pytest.raises(LoginFailed):
                auth.password(account.id, account.auditor.email, "wrong-password")
            db.session.commit()
        assert auth.password(account.id, account.auditor.email, PASSWORD).person_id == (
            account.auditor.id
        )


def test_a_lockout_ends_after_the_lockout_period(app, node, own_clock):
    account = make_account(app)
    email = account.end_user.email
    with app.app_context():
        auth = authenticator(node, own_clock)
        for _ in range(node.settings.login_max_failures):
            with pytest.raises(LoginFailed):
                auth.password(account.id, email, "wrong-password")
            db.session.commit()
        lockout = timedelta(minutes=node.settings.login_lockout_minutes)

        own_clock.advance(lockout - timedelta(seconds=1))
        with pytest.raises(LoginFailed):
            auth.password(account.id, email, PASSWORD)

        own_clock.advance(timedelta(seconds=1))
        assert auth.password(account.id, email, PASSWORD).person_id == account.end_user.id
        db.session.commit()
        person = db.session.get(Person, account.end_user.id)
        assert (person.failed_logins, person.locked_until) == (0, None)


def test_parallel_guesses_check_no_more_passwords_than_the_limit(app, node, own_clock):
    """Each check takes its attempt, committed, before the slow hash comparison: counted
    after it, 32 guesses sent at once were all checked and none locked the person out."""
    import threading

    account = make_account(app)
    email, limit = account.specialist.email, node.settings.login_max_failures
    checked: list[str] = []
    verify = node.passwords.verify

    def counting(stored, password):
        if stored is not None:
            checked.append(password)
        return verify(stored, password)

    start = threading.Barrier(12)

    def guess(n: int) -> None:
        with app.app_context():
            auth = Authenticator(db.session, own_clock, node.passwords, node.settings)
            start.wait()
            with pytest.raises(LoginFailed):
                auth.password(account.id, email, f"wrong-password-{n}")
            db.session.commit()

    node.passwords.verify = counting
    try:
        guesses = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
        for thread in guesses:
            thread.start()
        for thread in guesses:
            thread.join(timeout=60)
    finally:
        node.passwords.verify = verify
    assert len(checked) == limit
    with app.app_context(), pytest.raises(LoginFailed):
        authenticator(node, own_clock).password(account.id, email, PASSWORD)  # locked out
