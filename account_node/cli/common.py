"""What every command shares: the settings, an app context that commits on success, the
person a change is made as, and output as text or JSON.

A command owns its transaction (the boundary commits): ``node_context`` commits when the
command's block ends normally and rolls back on a ``NodeError``, which it renders once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from account_node.context import Work
from account_node.db import db
from account_node.errors import NodeError
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import principal_of
from account_node.identity.store import PeopleStore
from account_node.settings import Settings
from account_node.tenancy import AccountScope, bind_scope


def settings_of(ctx: click.Context) -> Settings:
    """The settings the root group loaded."""
    return ctx.find_root().obj  # type: ignore[no-any-return]


@contextmanager
def node_context(ctx: click.Context) -> Iterator[Flask]:
    """An app context whose session commits if the command succeeds."""
    from account_node.app import create_app

    try:
        app = create_app(settings_of(ctx))
    except NodeError as exc:
        raise click.ClickException(exc.detail) from exc
    with app.app_context():
        try:
            yield app
            db.session.commit()
        except NodeError as exc:
            db.session.rollback()
            raise click.ClickException(describe(exc)) from exc
        except (DataError, StatementError) as exc:
            # What the API's schemas refuse by name (a name past its length, a NUL) reaches
            # the database from a command line: said in a line, not a traceback. Only
            # that: a database down, locked or not migrated is no fault of a value.
            if isinstance(exc, DBAPIError) and not isinstance(exc, DataError):
                raise
            db.session.rollback()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            raise click.ClickException(
                f"a value given cannot be stored (too long for its field, or holding a "
                f"NUL character); nothing was changed. The database said: {reason}"
            ) from exc
        finally:
            db.session.remove()
            app.extensions["trustdesk"].close()


def describe(error: NodeError) -> str:
    lines = [error.detail]
    lines += [f"  {field}: {'; '.join(msgs)}" for field, msgs in error.errors.items()]
    return "\n".join(lines)


def hosted_scope(app: Flask, account_id: str) -> AccountScope:
    """The scope of ``account_id``, bound to the session, for read-only commands that act
    as no one (``ClickException`` through ``AccountNotFound`` if the node hosts no such
    account)."""
    node = app.extensions["trustdesk"]
    Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords).get(account_id)
    scope = AccountScope(account_id)
    bind_scope(db.session(), scope)
    return scope


def work_as(app: Flask, account_id: str, email: str, *roles: str) -> Work:
    """Work done as the active person ``email`` of the account, who must hold one of
    ``roles`` if any are given: the audit log never records an anonymous change."""
    node = app.extensions["trustdesk"]
    Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords).get(account_id)
    person = PeopleStore(db.session, AccountScope(account_id)).by_email(email.lower())
    if person is None or not person.active:
        raise click.ClickException(f"no active person {email} in account {account_id}")
    who = principal_of(person, "cli")
    if roles and not who.has(*roles):
        raise click.ClickException(f"{email} needs one of the roles {', '.join(roles)}")
    return Work(db.session, who.scope, who.actor, node.clock, node.jobs, node.settings, who.roles)


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    click.echo(as_json_text(data) if as_json else text(data))


def as_json_text(data: Any) -> str:
    """JSON as the API writes it: moments in ISO 8601, so that what the CLI prints (an
    invitation, say) can be handed to the API as it is."""
    return json.dumps(data, indent=2, default=_jsonable)


def _jsonable(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def handshake(app: Flask, work: Work) -> Any:
    """The same wiring as the API's (inside this command's app context)."""
    from trust.api import handshake_for

    return handshake_for(work)
