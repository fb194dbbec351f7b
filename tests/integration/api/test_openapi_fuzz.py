"""Property-based checks of the whole API against its own OpenAPI document (schemathesis).

Whatever a client sends, the node answers with a documented status and never a 500;
errors are problem+json. Runs on SQLite as an admin, with a bounded number of examples.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.factories.accounts import make_account

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def fuzz_account(sqlite_app):
    return make_account(sqlite_app)


@pytest.fixture
def api_schema(sqlite_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", sqlite_app)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_on_any_input(case, fuzz_account):
    case.headers = {**(case.headers or {}), **fuzz_account.admin.headers}
    response = case.call()
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        headers = {k.lower(): v for k, v in response.headers.items()}
        content_type = headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), response.text
