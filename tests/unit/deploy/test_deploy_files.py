"""docker-compose.yml and the Dockerfile name only commands, settings and files that exist.

There is no Docker engine on these machines, so the deployment description is checked
against the code instead: a renamed CLI option or setting breaks this test, not a deploy.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import click
import yaml

from account_node.cli import main as cli
from account_node.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
FIELDS = {f.name for f in dataclasses.fields(Settings)}


def _environment(service: dict) -> dict[str, str]:
    return dict(service.get("environment") or {})


NODES = ("msp", "fabrikam", "tailspin")


def test_the_deployment_is_the_three_node_federation():
    parts = {f"{n}{suffix}" for n in NODES for suffix in ("", "-migrate", "-worker")}
    assert set(SERVICES) == {"postgres", "redis"} | parts


def test_each_node_has_its_own_database_redis_database_secret_and_public_url():
    for field in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_URL"):
        values = {_environment(SERVICES[n])[f"TRUSTDESK_{field}"] for n in NODES}
        assert len(values) == len(NODES), field
    for name in NODES:
        assert _environment(SERVICES[name])["TRUSTDESK_PUBLIC_URL"] == f"http://{name}:8000"
        assert _environment(SERVICES[name]) == _environment(SERVICES[f"{name}-worker"])
    init = (ROOT / "config/compose/initdb.sql").read_text()
    assert all(f"CREATE DATABASE {n} " in init for n in NODES if n != "msp")


def test_nodes_and_workers_start_only_after_their_migrations_succeeded():
    for name in NODES:
        for service in (name, f"{name}-worker"):
            depends = SERVICES[service]["depends_on"]
            assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"
            assert depends["redis"]["condition"] == "service_healthy"
        migrate = SERVICES[f"{name}-migrate"]["depends_on"]
        assert migrate["postgres"]["condition"] == "service_healthy"


def test_every_trustdesk_setting_named_exists():
    for name, service in SERVICES.items():
        for variable in _environment(service):
            if variable.startswith("TRUSTDESK_"):
                assert variable.removeprefix("TRUSTDESK_").lower() in FIELDS, (name, variable)


def test_every_trustdesk_command_named_exists():
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if command[:1] != ["trustdesk"]:
            continue
        group: click.Command = cli
        for word in command[1:]:
            if word.startswith("-"):
                options = {o for p in group.params for o in p.opts}
                assert word.split("=")[0] in options, (name, word)
                continue
            assert isinstance(group, click.Group) and word in group.commands, (name, word)
            group = group.commands[word]


def test_the_node_runs_the_wsgi_app_with_the_gunicorn_config():
    command = SERVICES["msp"]["command"]
    config = command[command.index("-c") + 1]
    assert (ROOT / config).is_file()
    module, attribute = command[-1].split(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    assert f"{attribute} = create_app()" in (ROOT / (module.replace(".", "/") + ".py")).read_text()


def test_the_node_runs_as_the_runtime_role_and_migrations_as_the_owner():
    for name in NODES:
        migrate = _environment(SERVICES[f"{name}-migrate"])
        node = _environment(SERVICES[name])
        assert "trustdesk_app:" in node["TRUSTDESK_DATABASE_URL"]
        assert node["TRUSTDESK_DATABASE_URL"].endswith(f"/{name}")
        assert "trustdesk_owner:" in migrate["TRUSTDESK_MIGRATION_DATABASE_URL"]
        assert migrate["TRUSTDESK_MIGRATION_DATABASE_URL"].endswith(f"/{name}")
        assert migrate["TRUSTDESK_DATABASE_APP_ROLE"] == "trustdesk_app"


def test_every_file_the_dockerfile_copies_exists():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"COPY\s+(.+)\s+\S+$", line)
        if match:
            for source in match.group(1).split():
                assert (ROOT / source).exists(), source


def test_the_example_config_documents_every_setting_with_its_default():
    example = tomllib.loads((ROOT / "config" / "node.example.toml").read_text())["node"]
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert example == defaults


def test_the_production_gunicorn_config_serves_as_trustdesk_serve_does():
    """Under compose's gunicorn config a long request line was gunicorn's own 414 in HTML,
    where ``trustdesk serve`` answers problem+json: one set of options serves both."""
    import runpy

    from account_node.server import gunicorn_options

    loaded = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    served = gunicorn_options("127.0.0.1", 8000, 2, 32)
    for option in ("worker_class", "threads", "limit_request_line", "keepalive", "pre_request"):
        assert loaded[option] == served[option], option
    assert (loaded["bind"], loaded["workers"], loaded["accesslog"]) == ("0.0.0.0:8000", 2, "-")
