"""``create_app``: the composition root of one account node's HTTP server."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from gunicorn.http.errors import NoMoreData, ParseException
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from account_node.audit.api import audit_api
from account_node.clock import Clock
from account_node.db import db
from account_node.health import health
from account_node.http import (
    NodeApi,
    NodeJSONProvider,
    install_error_handlers,
    install_unit_of_work,
)
from account_node.identity.api import me_api, teams_api, users_api
from account_node.models import import_all_models
from account_node.node import Node, secret_key
from account_node.postgres import NodeCursor, warn_without_autovacuum
from account_node.settings import Settings, load_settings
from account_node.tenancy import assert_isolation_holds
from portal import portal_blueprint
from services.catalog.api import services_api
from services.cmdb.api import cis_api
from services.inbox.api import inbox_api, inbox_federation
from services.offerings.api import offerings_api, offerings_federation
from services.requests.api import requests_api
from services.sla.api import calendars_api, slas_api
from services.visibility.api import trust_requests_api, visibility_federation
from trust.api import federation, keys_api, outbox_api, trusts_api, well_known

API_BLUEPRINTS = (
    me_api,
    users_api,
    teams_api,
    audit_api,
    calendars_api,
    slas_api,
    services_api,
    cis_api,
    offerings_api,
    requests_api,
    trusts_api,
    trust_requests_api,
    inbox_api,
    keys_api,
    outbox_api,
)
# /federation/v1: peers' signed calls, one blueprint per slice that answers them.
FEDERATION_BLUEPRINTS = (
    federation,
    offerings_federation,
    visibility_federation,
    inbox_federation,
)
csrf = CSRFProtect()


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level)
    if logging.getLogger().level > logging.DEBUG:
        # httpx logs every call at INFO, and a node calls its peers on every inbox page
        # and every delivery: its own log says what matters (refusals, peers unreachable).
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    import_all_models()
    app = Flask("account_node", static_folder=None)
    # A path with an empty segment (``/api/v1//requests``, or an id sent as ``%2F...``)
    # names nothing: a 404 problem, not a 308 to another path built from the caller's
    # own Host header.
    app.url_map.merge_slashes = False
    app.json = NodeJSONProvider(app)
    app.config.update(_flask_config(settings))
    db.init_app(app)
    node = Node(settings, clock)
    node.app = app
    app.extensions["trustdesk"] = node

    api = NodeApi(app, spec_kwargs={"servers": [{"url": settings.public_url}]})
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health)
    app.register_blueprint(well_known)
    for blueprint in FEDERATION_BLUEPRINTS:
        app.register_blueprint(blueprint)
    csrf.init_app(app)
    app.register_blueprint(portal_blueprint)
    install_error_handlers(app, malformed=(ParseException, NoMoreData))
    install_unit_of_work(app)

    with app.app_context():
        _tune_sqlite(db.engine)
        with db.engine.connect() as connection:
            assert_isolation_holds(connection)
            warn_without_autovacuum(connection)
    if not settings.redis_url:
        node.start_periodic_jobs()  # with Redis, `trustdesk worker` starts them
    return app


def _flask_config(settings: Settings) -> dict[str, Any]:
    return {
        "SECRET_KEY": secret_key(settings),
        "SQLALCHEMY_DATABASE_URI": settings.effective_database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(settings),
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Served over https (its public URL says so): the cookie never travels in clear.
        "SESSION_COOKIE_SECURE": settings.session_cookie_secure
        or settings.public_url.startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=settings.session_lifetime_minutes),
        "WTF_CSRF_CHECK_DEFAULT": False,  # the portal protects its forms; the API uses tokens
        "WTF_CSRF_TIME_LIMIT": None,
        "API_TITLE": "TrustDesk account node",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }


def _engine_options(settings: Settings) -> dict[str, Any]:
    if settings.is_postgresql:
        # No pre-ping: it costs a round trip per request; recycling bounds stale sockets.
        return {
            "pool_recycle": 1800,
            "pool_size": 10,
            "max_overflow": 10,
            "connect_args": {
                "options": _session_options(settings.effective_database_url),
                "cursor_factory": NodeCursor,
            },
        }
    return {"connect_args": {"timeout": 15, "check_same_thread": False}}


def _session_options(url: str) -> str:
    """The URL's own ``options`` (an operator's statement_timeout, say), plus sessions
    in UTC whatever the server's default: psycopg then returns datetimes in
    ``datetime.UTC`` itself, which UTCDateTime passes through unconverted. Given as a
    connect argument, ``options`` replaces the URL's, so the two are joined here."""
    given = make_url(url).query.get("options") or ""
    if not isinstance(given, str):  # given more than once
        given = " ".join(given)
    return f"{given} -c TimeZone=UTC".strip()


def _tune_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() folds ASCII only: a search for "ärger" would miss
        # "Ärger". Python's, as PostgreSQL's does under a UTF-8 locale, folds them all.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
