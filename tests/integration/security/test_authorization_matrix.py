"""Every route x every role x own versus foreign account.

The rules (``rules_*.py`` beside this file) are the specification of who may do what. A
route added to the app without a rule fails ``test_every_route_is_in_the_matrix``, so
nobody ships an endpoint without deciding its access rules. Foreign ids answer 404,
exactly like ids that do not exist, so ids never reveal another customer's data.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories.accounts import make_account
from tests.integration.security.matrix import ROLES, Rule, collect, resolve

RULES, TARGETS = collect()


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_matrix(app):
    routes = app_routes(app)
    assert routes - set(RULES) == set(), "new routes need a rule in rules_*.py"
    assert set(RULES) - routes == set(), "rules name routes that no longer exist"


def call(client, path: str, method: str, rule: Rule, account, role: str, headers) -> Any:
    url, ids = resolve(path, rule, TARGETS, client, account, role)
    body = rule.body(ids) if rule.body else None
    response = client.open(url, method=method, headers=headers, json=body)
    response.get_data()  # read, then close: static files are streamed
    response.close()
    return response


@pytest.fixture
def two_accounts(app):
    return make_account(app, prefix="own"), make_account(app, prefix="foreign")


@pytest.mark.parametrize(("path", "method"), sorted(RULES))
def test_route_answers_each_role_as_the_matrix_says(app, client, two_accounts, path, method):
    rule = RULES[(path, method)]
    own, foreign = two_accounts
    anonymous = call(client, path, method, rule, own, "admin", {})
    assert anonymous.status_code == rule.anonymous_status, anonymous.get_data(as_text=True)
    if rule.public:
        return
    assert anonymous.mimetype == "application/problem+json"
    for role in ROLES:
        member = getattr(own, role)
        response = call(client, path, method, rule, own, role, member.headers)
        expected = rule.ok if role in rule.allowed else rule.denied
        assert response.status_code == expected, (role, response.get_data(as_text=True))
        if expected >= 400:
            assert response.mimetype == "application/problem+json"
        if rule.by_id:
            response = call(client, path, method, rule, foreign, role, member.headers)
            expected = 404 if role in rule.allowed else rule.denied
            assert response.status_code == expected, (role, "foreign", response.get_data(True))


API_ROUTES = sorted(
    (path, method)
    for (path, method), rule in RULES.items()
    if path.startswith("/api/v1/") and not rule.public
)


JUNK = (
    {"data": b"{not json", "content_type": "application/json"},
    {"data": b"x", "content_type": "text/plain"},
    {"json": {"email": 7, "limit": "many"}, "query_string": {"limit": "x"}},
)


@pytest.mark.parametrize(("path", "method"), API_ROUTES)
def test_a_caller_without_a_token_learns_nothing_of_what_a_route_takes(
    app, client, two_accounts, path, method
):
    """401 before the input is read: an invalid body or query, or a body that is not
    JSON, gets no field-by-field answer (which fields a route requires, how long a
    password must be) from someone who has not said who they are."""
    rule = RULES[(path, method)]
    own, _ = two_accounts
    url, _ = resolve(path, rule, TARGETS, client, own, "admin")
    for junk in JUNK:
        response = client.open(url, method=method, **junk)
        assert response.status_code == 401, (junk, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
        response = client.open(url, method=method, headers={"Authorization": "Bearer nope"}, **junk)
        assert response.status_code == 401, (junk, response.get_data(as_text=True))
