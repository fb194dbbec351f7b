"""Portal login: session cookie, CSRF on every form, lockout, and a safe return path."""

from __future__ import annotations

import re

from tests.factories.accounts import PASSWORD, make_account


def _csrf(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(client, account_id: str, email: str, password: str, next_path: str | None = None):
    url = "/login" + (f"?next={next_path}" if next_path else "")
    form = {
        "csrf_token": _csrf(client),
        "account": account_id,
        "email": email,
        "password": password,
    }
    return client.post(url, data=form)


def test_a_person_signs_in_and_sees_who_and_where_they_are(app, client):
    account = make_account(app)
    response = _login(client, account.id, account.end_user.email, PASSWORD)
    assert response.status_code == 303
    home = client.get("/").get_data(as_text=True)
    assert "End User" in home and account.id in home


def test_an_anonymous_visit_returns_to_the_asked_page_after_login(app, client):
    account = make_account(app)
    assert client.get("/").headers["Location"].startswith("/login?next=/")
    response = _login(client, account.id, account.admin.email, PASSWORD, next_path="/")
    assert response.headers["Location"] == "/"


def test_login_never_redirects_off_site(app, client):
    account = make_account(app)
    response = _login(client, account.id, account.admin.email, PASSWORD, "//evil.example/x")
    assert response.headers["Location"] == "/"


def test_a_form_without_its_csrf_token_is_refused(app, client):
    account = make_account(app)
    form = {"account": account.id, "email": account.admin.email, "password": PASSWORD}
    response = client.post("/login", data=form)
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_wrong_passwords_lock_the_person_out(app, client):
    account = make_account(app)
    attempts = app.extensions["trustdesk"].settings.login_max_failures
    for _ in range(attempts):
        assert (
            _login(client, account.id, account.auditor.email, "wrong-password!").status_code == 401
        )
    locked = _login(client, account.id, account.auditor.email, PASSWORD)
    assert locked.status_code == 401
    # The same answer as a wrong password (which says that signing in pauses): a lockout
    # must not tell a prober that this e-mail belongs to someone.
    unknown = _login(client, account.id, f"nobody@{account.id}.test", PASSWORD)

    def alert(page):
        return re.search(r'role="alert">([^<]+)<', page.get_data(as_text=True)).group(1)

    assert alert(locked) == alert(unknown) and "pauses for a while" in alert(locked)


def test_the_same_message_for_unknown_accounts_people_and_passwords(app, client):
    account = make_account(app)
    pages = [
        _login(client, "no-such-account", account.admin.email, PASSWORD),
        _login(client, account.id, "nobody@example.test", PASSWORD),
        _login(client, account.id, account.admin.email, "wrong-password!"),
    ]
    assert {p.status_code for p in pages} == {401}
    messages = {
        re.search(r'role="alert">([^<]+)<', p.get_data(as_text=True)).group(1) for p in pages
    }
    assert len(messages) == 1


def test_logout_ends_the_session(app, client):
    account = make_account(app)
    _login(client, account.id, account.admin.email, PASSWORD)
    client.post("/logout", data={"csrf_token": _csrf(client, "/")})
    assert client.get("/").status_code == 302


def test_a_nul_in_a_form_field_is_a_422_page_not_a_crash(app, client):
    account = make_account(app)
    response = _login(client, account.id + "\x00", account.admin.email, PASSWORD)
    assert (response.status_code, response.mimetype) == (422, "text/html")
    assert client.get("/").status_code == 302  # not signed in


def test_pages_keep_to_their_own_origin_and_cannot_be_framed(app, client):
    """One-button forms (rotate a key, accept a trust) must not be clickable through
    another site's overlay; pages load only their own script and style."""
    page = client.get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_https_only_where_the_node_is_served_over_https():
    from account_node.app import _flask_config
    from account_node.settings import Settings

    def secure(**given) -> bool:
        return _flask_config(Settings(secret_key="x", **given))["SESSION_COOKIE_SECURE"]

    assert secure(public_url="https://desk.example.test") is True
    assert secure(public_url="http://127.0.0.1:5000") is False
    assert secure(public_url="http://127.0.0.1:5000", session_cookie_secure=True) is True


def _copy_of_session(app, client):
    """A second browser holding a copy of ``client``'s session cookie (a stolen one)."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def test_signing_out_ends_every_copy_of_the_session(app, client):
    """A signed cookie alone stays valid for its whole lifetime, wherever it is copied;
    signing out now ends it on the server, everywhere."""
    account = make_account(app)
    _login(client, account.id, account.admin.email, PASSWORD)
    thief = _copy_of_session(app, client)
    assert thief.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": _csrf(client, "/")})
    assert thief.get("/").status_code == 302


def test_a_new_password_ends_the_persons_sessions(app, client):
    account = make_account(app)
    _login(client, account.id, account.end_user.email, PASSWORD)
    assert client.get("/").status_code == 200
    reset = app.test_client().patch(
        f"/api/v1/users/{account.end_user.id}", headers=account.admin.headers,
        json={"password": "a-brand-new-password"},
    )  # fmt: skip
    assert reset.status_code == 200
    assert client.get("/").status_code == 302
    _login(client, account.id, account.end_user.email, "a-brand-new-password")
    assert client.get("/").status_code == 200


def test_a_session_made_before_sessions_held_an_epoch_still_works(app, client):
    """Upgrading the node signs nobody out: such a session holds the first epoch."""
    account = make_account(app)
    _login(client, account.id, account.admin.email, PASSWORD)
    with client.session_transaction() as stored:
        del stored["epoch"]
    assert client.get("/").status_code == 200
