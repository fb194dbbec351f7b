"""Portal test helpers: a desk built through the API, and people signed in through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories.accounts import PASSWORD, AccountFixture
from tests.integration.services.requests.conftest import Desk, build_desk

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """A test client signed in as one person, posting forms the way a browser does."""

    client: FlaskClient
    account: AccountFixture

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def text(self, path: str, status: int = 200) -> str:
        response = self.client.get(path)
        assert response.status_code == status, (path, response.status_code)
        return response.get_data(as_text=True)

    def token(self, path: str = "/") -> str:
        match = CSRF.search(self.client.get(path).get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, data: dict[str, Any], *, page: str = "/", csrf: bool = True) -> Any:
        form = dict(data)
        if csrf:
            form["csrf_token"] = self.token(page)
        return self.client.post(path, data=form)


def sign_in(app: Flask, account: AccountFixture, role: str) -> Browser:
    client = app.test_client()
    member = getattr(account, role)
    page = client.get("/login").get_data(as_text=True)
    form = {
        "csrf_token": CSRF.search(page).group(1),
        "account": account.id,
        "email": member.email,
        "password": PASSWORD,
    }
    response = client.post("/login", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    return Browser(client, account)


@pytest.fixture
def desk(app, client) -> Desk:
    return build_desk(app, client)


@pytest.fixture
def as_role(app, desk):
    """``as_role("end_user")``: a browser signed in as that person of the desk's account."""
    return lambda role: sign_in(app, desk.account, role)


def errors_next_to(html: str, field: str) -> str:
    """The error text shown right after the named field, or ''."""
    match = re.search(rf'<p class="field-error" id="{re.escape(field)}-error">([^<]*)</p>', html)
    return match.group(1) if match else ""
