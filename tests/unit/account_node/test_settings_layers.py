"""Settings come in layers, lowest first: the dataclass defaults, the example TOML file, a
file given with ``--config``, ``TRUSTDESK_*`` environment variables, keyword overrides.
Every value that cannot be used is a ``SettingsError`` naming the setting and the source.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from account_node.settings import Settings, SettingsError, example_config_path, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def example(tmp_path, monkeypatch) -> Path:
    """A stand-in for config/node.example.toml, so the example layer is observable."""
    path = write(
        tmp_path / "example.toml",
        '[node]\nnode_name = "from-example"\nlog_level = "WARNING"\nsla_sweep_seconds = 30\n',
    )
    monkeypatch.setattr("account_node.settings.example_config_path", lambda: path)
    return path


@pytest.fixture
def config(tmp_path) -> Path:
    return write(
        tmp_path / "node.toml",
        '[node]\nnode_name = "from-file"\nsla_sweep_seconds = 45\ntoken_default_days = 7\n',
    )


# Defaults and the example file


def test_the_shipped_example_file_lists_every_setting_with_its_default():
    with example_config_path().open("rb") as handle:
        example_values = tomllib.load(handle)["node"]
    defaults = {field.name: field.default for field in dataclasses.fields(Settings)}
    assert example_values == defaults


def test_with_no_file_and_no_environment_the_defaults_apply():
    settings = load_settings(environ={})
    assert settings == Settings()
    assert (settings.database_url, settings.redis_url, settings.secret_key) == ("", "", "")
    assert (settings.login_max_failures, settings.login_lockout_minutes) == (5, 15)
    assert settings.session_cookie_secure is False


def test_the_example_file_is_the_layer_over_the_defaults(example):
    settings = load_settings(environ={})
    assert (settings.node_name, settings.log_level, settings.sla_sweep_seconds) == (
        "from-example",
        "WARNING",
        30,
    )
    assert settings.token_default_days == Settings().token_default_days


def test_a_missing_example_file_leaves_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "account_node.settings.example_config_path", lambda: tmp_path / "absent.toml"
    )
    assert load_settings(environ={}) == Settings()


# --config file and environment


def test_a_config_file_overrides_the_example_key_by_key(example, config):
    settings = load_settings(config, environ={})
    assert (settings.node_name, settings.sla_sweep_seconds, settings.token_default_days) == (
        "from-file",
        45,
        7,
    )
    assert settings.log_level == "WARNING"  # only in the example: still applies


def test_a_config_file_may_also_be_given_as_a_string_path(config):
    assert load_settings(str(config), environ={}).node_name == "from-file"


def test_a_file_without_a_node_table_is_read_as_top_level_settings(tmp_path):
    path = write(tmp_path / "flat.toml", 'node_name = "flat"\nlogin_max_failures = 3\n')
    settings = load_settings(path, environ={})
    assert (settings.node_name, settings.login_max_failures) == ("flat", 3)


def test_the_environment_beats_the_config_file(example, config):
    environ = {"TRUSTDESK_NODE_NAME": "from-env", "TRUSTDESK_SLA_SWEEP_SECONDS": "90"}
    settings = load_settings(config, environ=environ)
    assert (settings.node_name, settings.sla_sweep_seconds) == ("from-env", 90)
    assert settings.token_default_days == 7  # not in the environment: the file still wins


def test_keyword_overrides_beat_the_environment(config):
    settings = load_settings(config, environ={"TRUSTDESK_NODE_NAME": "env"}, node_name="code")
    assert settings.node_name == "code"


def test_the_process_environment_is_read_when_none_is_given(monkeypatch):
    monkeypatch.setenv("TRUSTDESK_NODE_NAME", "from-process")
    assert load_settings().node_name == "from-process"


def test_environment_variables_that_name_no_setting_are_ignored():
    # TRUSTDESK_REQUIRE_SERVICES and TRUSTDESK_TEST_* are read by the test suite, not the node.
    environ = {"TRUSTDESK_REQUIRE_SERVICES": "1", "TRUSTDESK_COLOUR": "blue"}
    assert load_settings(environ=environ) == Settings()


def test_an_empty_string_in_the_environment_sets_a_string_setting_to_empty(config):
    path = write(config, '[node]\nredis_url = "redis://127.0.0.1:6379/0"\n')
    assert load_settings(path, environ={"TRUSTDESK_REDIS_URL": ""}).redis_url == ""


# Coercion of environment strings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_a_boolean_setting_reads_the_usual_spellings(raw, expected):
    settings = load_settings(environ={"TRUSTDESK_FEDERATION_ALLOW_HTTP": raw})
    assert settings.federation_allow_http is expected


@pytest.mark.parametrize(("raw", "expected"), [("2048", 2048), (" 7 ", 7), ("0", 0)])
def test_an_integer_setting_is_parsed_from_the_environment(raw, expected):
    assert load_settings(environ={"TRUSTDESK_MAX_CONTENT_LENGTH": raw}).max_content_length == (
        expected
    )


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("MAX_CONTENT_LENGTH", "1.5", "TRUSTDESK_MAX_CONTENT_LENGTH must be an integer, not '1.5'"),
        (
            "LOGIN_MAX_FAILURES",
            "five",
            "TRUSTDESK_LOGIN_MAX_FAILURES must be an integer, not 'five'",
        ),
        ("PAGE_SIZE_MAX", "", "TRUSTDESK_PAGE_SIZE_MAX must be an integer, not ''"),
        (
            "SESSION_COOKIE_SECURE",
            "maybe",
            "TRUSTDESK_SESSION_COOKIE_SECURE must be true or false, not 'maybe'",
        ),
        (
            "FEDERATION_ALLOW_PRIVATE",
            "2",
            "TRUSTDESK_FEDERATION_ALLOW_PRIVATE must be true or false, not '2'",
        ),
    ],
)
def test_an_environment_value_of_the_wrong_kind_is_an_error_naming_the_variable(name, raw, message):
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        load_settings(environ={f"TRUSTDESK_{name}": raw})


def test_a_settings_error_is_a_value_error():
    assert issubclass(SettingsError, ValueError)


# Errors in files


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('max_content_length = "big"', "max_content_length must be int"),
        ("page_size_max = 2.5", "page_size_max must be int"),
        ("login_max_failures = true", "login_max_failures must be int"),
        ('session_cookie_secure = "yes"', "session_cookie_secure must be bool"),
        ("federation_allow_http = 1", "federation_allow_http must be bool"),
        ("node_name = 5", "node_name must be str"),
        ("database_url = []", "database_url must be str"),
    ],
)
def test_a_file_value_of_the_wrong_type_is_an_error_naming_file_and_setting(
    tmp_path, line, message
):
    path = write(tmp_path / "node.toml", f"[node]\n{line}\n")
    with pytest.raises(SettingsError, match=f"^{re.escape(f'{path}: {message}')}$"):
        load_settings(path, environ={})


def test_unknown_keys_in_a_file_are_all_named(tmp_path):
    path = write(tmp_path / "node.toml", '[node]\nflavour = 1\ncolour = "blue"\nnode_name = "x"\n')
    with pytest.raises(SettingsError, match=re.escape(f"{path}: unknown settings colour, flavour")):
        load_settings(path, environ={})


def test_a_misspelt_table_is_an_unknown_setting(tmp_path):
    path = write(tmp_path / "node.toml", '[nodes]\nnode_name = "x"\n')
    with pytest.raises(SettingsError, match="unknown settings nodes"):
        load_settings(path, environ={})


def test_a_file_that_is_not_toml_is_an_error_naming_the_file(tmp_path):
    path = write(tmp_path / "node.toml", "[node\nnode_name = \n")
    with pytest.raises(SettingsError, match=f"^{re.escape(str(path))}: "):
        load_settings(path, environ={})


def test_a_config_file_that_does_not_exist_is_an_error_naming_it(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(SettingsError, match=f"^{re.escape(f'config file not found: {path}')}$"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("LOGIN_MAX_FAILURES", "0"),
        ("PASSWORD_TIME_COST", "0"),
        ("PASSWORD_MEMORY_KIB", "0"),
        ("FEDERATION_TIMEOUT_SECONDS", "0"),
        ("MAX_CONTENT_LENGTH", "-1"),
    ],
)
def test_a_number_no_node_could_run_with_is_refused_when_loading(name, raw):
    # SettingsError's contract: "a setting could not be read or has an impossible value".
    with pytest.raises(SettingsError, match=f"(?i){name}"):
        load_settings(environ={f"TRUSTDESK_{name}": raw})


# The effective database


def test_without_a_database_url_sqlite_lives_in_the_data_directory(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"))
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'data' / 'node.db'}"
    assert settings.effective_migration_url == settings.effective_database_url
    assert not settings.is_postgresql


def test_a_relative_data_directory_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={"TRUSTDESK_DATA_DIR": "var"})
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'node.db'}"


def test_a_postgresql_url_is_used_as_given_and_migrations_may_use_another():
    settings = Settings(
        database_url="postgresql+psycopg://trustdesk_app@db/trustdesk",
        migration_database_url="postgresql+psycopg://owner@db/trustdesk",
    )
    assert settings.effective_database_url == "postgresql+psycopg://trustdesk_app@db/trustdesk"
    assert settings.effective_migration_url == "postgresql+psycopg://owner@db/trustdesk"
    assert settings.is_postgresql


def test_settings_are_frozen_and_replace_makes_a_copy():
    settings = Settings()
    changed = settings.replace(node_name="other")
    assert (settings.node_name, changed.node_name) == ("trustdesk", "other")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.node_name = "mutated"  # type: ignore[misc]
