"""Every datetime the node reads back is an aware datetime in ``datetime.UTC``, on SQLite
as on PostgreSQL, whatever zone it was written in and whatever the server's default."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

from account_node.app import create_app
from account_node.db import db
from account_node.identity.models import Account
from account_node.tenancy import AccountScope, bind_scope
from tests.conftest import node_settings


def test_a_moment_written_in_any_zone_reads_back_as_the_same_instant_in_utc(app):
    written = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=5)))
    account_id = f"tz-{secrets.token_hex(4)}"
    with app.app_context():
        db.session.add(Account(id=account_id, name="Zones", created_at=written))
        db.session.commit()
        db.session.expunge_all()
        read = db.session.scalar(select(Account.created_at).where(Account.id == account_id))
        assert read == written
        assert read.tzinfo is UTC
        bind_scope(db.session(), AccountScope(account_id))  # an account's own (0017)
        db.session.execute(Account.__table__.delete().where(Account.id == account_id))
        db.session.commit()


def test_postgresql_sessions_run_in_utc(postgres_app):
    with postgres_app.app_context():
        assert db.session.scalar(text("SHOW TimeZone")) == "UTC"
        db.session.rollback()


def test_an_operators_session_options_in_the_url_are_kept(postgres_urls, clock, tmp_path):
    _, runtime = postgres_urls
    settings = node_settings(
        data_dir=str(tmp_path),
        database_url=f"{runtime}?options=-c%20statement_timeout%3D4321",
    )
    app = create_app(settings, clock=clock)
    try:
        with app.app_context():
            assert db.session.scalar(text("SHOW statement_timeout")) == "4321ms"
            assert db.session.scalar(text("SHOW TimeZone")) == "UTC"
            db.session.rollback()
    finally:
        app.extensions["trustdesk"].close()
