"""The OpenAPI document describes every API route outside clients rely on."""

from __future__ import annotations


def test_openapi_lists_the_core_paths(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/me", "/api/v1/users", "/api/v1/teams", "/api/v1/audit/verify"):
        assert path in spec["paths"], path


def test_every_api_route_is_documented(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {
        (path, method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method in {"get", "post", "patch", "put", "delete"}
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


def test_errors_are_documented_as_the_problems_they_are(client):
    """Not flask-smorest's own error schema (a numeric ``code``, a ``message``) in
    ``application/json``: clients generated from the document must read what comes."""
    spec = client.get("/api/v1/openapi.json").get_json()
    responses = spec["components"]["responses"]
    assert {"DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"} <= set(responses)
    for name in responses:  # those the paths refer to: all errors
        assert responses[name]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert problem["code"]["type"] == "string" and problem["status"]["type"] == "integer"
    # RFC 9457 lets a problem carry members of its own (``reason``, ``allowed``): a
    # client validating against a closed schema refused them.
    assert spec["components"]["schemas"]["Problem"].get("additionalProperties") is not False
    assert "Error" not in spec["components"]["schemas"]


def test_every_operation_documents_what_it_answers_when_it_succeeds(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        and not any(code.startswith("2") for code in operation.get("responses", {}))
    ]
    assert undocumented == []
    inbox = spec["paths"]["/api/v1/inbox"]["get"]["responses"]["200"]
    page = inbox["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/InboxPage"}


def test_the_document_says_every_operation_takes_a_bearer_token(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a personal API token",
    }
    assert spec["security"] == [{"bearer": []}]
