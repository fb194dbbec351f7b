"""The caller's own record and tokens through the REST API."""

from __future__ import annotations

from tests.factories.accounts import make_account


def test_me_names_the_person_their_roles_and_account(app, client):
    account = make_account(app)
    response = client.get("/api/v1/me", headers=account.specialist.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == account.specialist.email
    assert body["roles"] == ["specialist"]
    assert body["account"]["id"] == account.id
    assert body["via"] == "token"


def test_me_without_a_token_is_a_401_problem(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
