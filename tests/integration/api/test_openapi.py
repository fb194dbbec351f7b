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
