"""Settings: example file < --config file < TRUSTDESK_* environment, and clear errors."""

from __future__ import annotations

import pytest

from account_node.settings import Settings, SettingsError, load_settings


def test_defaults_come_from_the_example_file():
    settings = load_settings(environ={})
    assert settings == Settings()


def test_a_config_file_overrides_the_example(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text('[node]\nnode_name = "acme"\nmax_content_length = 2048\n')
    settings = load_settings(path, environ={})
    assert (settings.node_name, settings.max_content_length) == ("acme", 2048)


def test_the_environment_overrides_the_file(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text('[node]\nnode_name = "acme"\n')
    environ = {"TRUSTDESK_NODE_NAME": "beta", "TRUSTDESK_SESSION_COOKIE_SECURE": "yes"}
    settings = load_settings(path, environ=environ)
    assert settings.node_name == "beta"
    assert settings.session_cookie_secure is True


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TRUSTDESK_MAX_CONTENT_LENGTH": "big"}, "must be an integer"),
        ({"TRUSTDESK_SESSION_COOKIE_SECURE": "maybe"}, "must be true or false"),
    ],
)
def test_a_bad_environment_value_is_a_clear_error(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[node]\ncolour = "blue"\n', "unknown settings colour"),
        ('[node]\nmax_content_length = "big"\n', "max_content_length must be int"),
        ("[node\n", "node.toml"),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "node.toml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(path, environ={})


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_sqlite_lives_in_the_data_directory(tmp_path):
    settings = Settings(data_dir=str(tmp_path))
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'node.db'}"
    assert not settings.is_postgresql
    assert settings.effective_migration_url == settings.effective_database_url


def test_live_streams_must_leave_threads_for_every_other_call():
    with pytest.raises(SettingsError, match="fewer than server_threads"):
        load_settings(environ={}, server_threads=8, inbox_streams_per_process=8)
    assert load_settings(environ={}, server_threads=8, inbox_streams_per_process=6)


def test_serve_gives_each_worker_the_threads_the_settings_ask_for(monkeypatch):
    from account_node import server

    started = {}

    class Recorded:
        def __init__(self, settings, options):
            started.update(options)

        def run(self):
            pass

    monkeypatch.setattr(server, "NodeServer", Recorded)
    settings = load_settings(environ={}, server_threads=48, inbox_streams_per_process=40)
    server.serve_forever(settings, "127.0.0.1", 5000, 2)
    assert (started["worker_class"], started["workers"], started["threads"]) == ("gthread", 2, 48)
