"""Property-based checks of the whole API against its own OpenAPI document (schemathesis).

Whatever a client sends, the node answers with a status below 500, and every error is a
problem+json document. Runs on SQLite as an admin, a bounded number of cases per operation.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance

from tests.factories.accounts import make_account

CASES_PER_OPERATION = 12


def _content_type(response) -> str:
    headers = {k.lower(): v for k, v in response.headers.items()}
    value = headers.get("content-type", "")
    return value[0] if isinstance(value, list) else value


def test_the_api_never_fails_on_any_input(sqlite_app):
    admin = make_account(sqlite_app).admin
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", sqlite_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @settings(
            max_examples=CASES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def answers_sanely(case):
            case.headers = {**(case.headers or {}), **admin.headers}
            response = case.call()
            where = f"{case.method} {case.path}"
            assert response.status_code < 500, (where, response.text)
            if response.status_code >= 400:
                problem = _content_type(response).startswith("application/problem+json")
                assert problem, (where, response.text)
            case.validate_response(response, checks=[response_schema_conformance])

        answers_sanely()
