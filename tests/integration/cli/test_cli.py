"""The trustdesk command line: accounts, people and tokens end to end on SQLite."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from account_node.app import create_app
from account_node.cli import main as cli
from tests.conftest import node_settings


@pytest.fixture
def env(tmp_path):
    return {
        "TRUSTDESK_DATA_DIR": str(tmp_path),
        "TRUSTDESK_SECRET_KEY": "k",
        "TRUSTDESK_PASSWORD_TIME_COST": "1",
        "TRUSTDESK_PASSWORD_MEMORY_KIB": "1024",
    }


def run(env, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


ACME = ["--account", "acme", "--as", "root@acme.test"]


def create_acme(env) -> None:
    run(env, "db", "upgrade")
    run(
        env, "account", "create", "acme", "--name", "Acme", "--admin-email", "root@acme.test",
        "--admin-name", "Root", "--admin-password", "long-enough-password",
    )  # fmt: skip


def add_person(env, email: str, role: str, *acting: str, code: int = 0) -> str:
    name = email.split("@")[0].title()
    return run(
        env, "user", "create", *(acting or ACME), "--email", email, "--name", name, "--role", role,
        code=code,
    )  # fmt: skip


def test_an_operator_sets_up_an_account_and_its_people(env, tmp_path):
    create_acme(env)
    add_person(env, "spec@acme.test", "specialist")
    people = json.loads(run(env, "user", "list", *ACME, "--json"))
    assert {p["email"] for p in people} == {"root@acme.test", "spec@acme.test"}
    issue = ["token", "issue", "--account", "acme", "--email", "spec@acme.test", "--name", "cli"]
    token = run(env, *issue).strip()

    app = create_app(node_settings(data_dir=str(tmp_path), secret_key="k"))
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json()["email"] == "spec@acme.test"
    app.extensions["trustdesk"].close()
    listed = json.loads(
        run(env, "token", "list", "--account", "acme", "--email", "spec@acme.test", "--json")
    )
    assert [t["name"] for t in listed] == ["cli"]
    run(env, "token", "revoke", *ACME, listed[0]["id"])
    assert "acme: ok" in run(env, "audit", "verify")


def test_a_person_who_is_not_admin_cannot_add_people(env):
    create_acme(env)
    add_person(env, "eve@acme.test", "end_user")
    output = add_person(
        env, "x@acme.test", "admin", "--account", "acme", "--as", "eve@acme.test", code=1
    )
    assert "needs one of the roles admin" in output


def test_invalid_input_names_the_fields_and_writes_nothing(env):
    run(env, "db", "upgrade")
    output = run(
        env,
        "account",
        "create",
        "Bad_Id",
        "--name",
        "",
        "--admin-email",
        "x",
        "--admin-name",
        "X",
        "--admin-password",
        "short",
        code=1,
    )
    assert "id:" in output and "name:" in output
    assert json.loads(run(env, "account", "list", "--json")) == []


def test_a_bad_setting_is_a_clear_error(env):
    output = run({**env, "TRUSTDESK_MAX_CONTENT_LENGTH": "lots"}, "account", "list", code=1)
    assert "TRUSTDESK_MAX_CONTENT_LENGTH must be an integer" in output


def test_python_dash_m_is_the_same_cli():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "account_node", "--help"], capture_output=True, text=True, check=True
    )
    assert "trustdesk" in result.stdout and "demo" in result.stdout


def test_proposing_with_what_is_not_an_invitation_names_what_is_wrong(env, tmp_path):
    create_acme(env)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"node_url": "https://msp.example", "account": "msp"}))
    output = run(env, "trust", "propose", *ACME, str(partial), code=1)
    assert "fingerprint:" in output and "code:" in output
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{not json")
    assert "not JSON" in run(env, "trust", "propose", *ACME, str(garbled), code=1)


def test_verifying_the_audit_of_an_account_the_node_does_not_host_is_an_error(env):
    create_acme(env)
    assert "acme: ok" in run(env, "audit", "verify", "--account", "acme")
    assert "account nope not found" in run(env, "audit", "verify", "--account", "nope", code=1)


def test_a_value_the_database_cannot_store_is_a_one_line_error_not_a_traceback(postgres_app):
    """The API's schemas refuse a name past its length by field; a command line reaches
    the database with it. PostgreSQL refuses it (SQLite stores text of any length)."""
    from tests.factories.accounts import make_account

    app = postgres_app
    account = make_account(app)
    settings = app.extensions["trustdesk"].settings
    env = {
        "TRUSTDESK_DATABASE_URL": settings.database_url,
        "TRUSTDESK_DATA_DIR": settings.data_dir,
        "TRUSTDESK_SECRET_KEY": "x",
    }
    result = CliRunner().invoke(
        cli,
        ["user", "create", "--account", account.id, "--as", account.admin.email,
         "--email", f"long@{account.id}.test", "--name", "N" * 300, "--role", "end_user"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "cannot be stored" in result.output and "Traceback" not in result.output


def test_a_database_fault_is_not_blamed_on_a_value(env):
    """Only a value the database refuses is reported as one; a database not migrated
    yet (or down, or locked) is another matter, and says so in its own words."""
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code != 0
    assert "cannot be stored" not in result.output


def test_trust_list_shows_every_trust_not_a_first_page(env, tmp_path):
    """Ended trusts stay on record for good: the list showed the first 200 and stopped."""
    from datetime import UTC, datetime

    from account_node.db import db
    from account_node.tenancy import AccountScope, bind_scope
    from trust.models import Trust

    create_acme(env)
    app = create_app(node_settings(data_dir=str(tmp_path), secret_key="k"))
    with app.app_context():
        bind_scope(db.session(), AccountScope("acme"))
        at = datetime(2021, 1, 1, tzinfo=UTC)
        db.session.add_all(
            Trust(id=f"t{n:03}", role="trusted", peer_account=f"c{n}", peer_node="https://c.test",
                  status="deactivated", agreement={}, created_at=at, account_id="acme")
            for n in range(205)
        )  # fmt: skip
        db.session.commit()
    listed = json.loads(run(env, "trust", "list", *ACME, "--json"))
    assert len(listed) == 205
