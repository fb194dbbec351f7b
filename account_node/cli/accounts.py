"""``trustdesk account`` and ``trustdesk user``: accounts hosted on this node and their
people."""

from __future__ import annotations

from typing import Any

import click

from account_node.cli.common import emit, node_context, work_as
from account_node.cli.group import main
from account_node.db import db
from account_node.identity.accounts import Accounts
from account_node.identity.service import People


@main.group()
def account() -> None:
    """Accounts hosted on this node."""


@account.command("create")
@click.argument("account_id")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(["msp", "customer"]), default="customer")
@click.option("--admin-email", required=True)
@click.option("--admin-name", required=True)
@click.password_option("--admin-password", envvar="TRUSTDESK_ADMIN_PASSWORD")
@click.pass_context
def account_create(ctx: click.Context, account_id: str, **fields: Any) -> None:
    """Create an account with its first admin."""
    with node_context(ctx) as app:
        node = app.extensions["trustdesk"]
        accounts = Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords)
        created, admin = accounts.create(
            account_id,
            fields["name"],
            fields["admin_email"],
            fields["admin_name"],
            fields["admin_password"],
            kind=fields["kind"],
        )
        click.echo(f"account {created.id} created; admin {admin.email}")


@account.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def account_list(ctx: click.Context, as_json: bool) -> None:
    with node_context(ctx) as app:
        node = app.extensions["trustdesk"]
        rows = [
            {"id": a.id, "name": a.name, "kind": a.kind, "active": a.active}
            for a in Accounts(
                db.session, node.clock, node.jobs, node.settings, node.passwords
            ).all()
        ]
        emit(rows, as_json, lambda r: "\n".join(f"{a['id']}\t{a['kind']}\t{a['name']}" for a in r))


@main.group()
def user() -> None:
    """People of an account."""


@user.command("create")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True, help="e-mail of the admin doing this")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--password", envvar="TRUSTDESK_USER_PASSWORD", default=None)
@click.option("--time-zone", default="UTC")
@click.pass_context
def user_create(ctx: click.Context, account_id: str, as_email: str, **fields: Any) -> None:
    """Add a person to an account."""
    with node_context(ctx) as app:
        work = work_as(app, account_id, as_email, "admin")
        person = People(work, app.extensions["trustdesk"].passwords).create(
            fields["email"],
            fields["name"],
            list(fields["roles"]),
            fields["password"],
            fields["time_zone"],
        )
        click.echo(f"person {person.email} created with id {person.id}")


@user.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_list(ctx: click.Context, account_id: str, as_email: str, as_json: bool) -> None:
    with node_context(ctx) as app:
        work = work_as(app, account_id, as_email, "admin", "auditor")
        people, cursor = [], None
        while True:
            page = People(work, app.extensions["trustdesk"].passwords).page(cursor, 200)
            people += [
                {"id": p.id, "email": p.email, "name": p.name, "roles": p.roles, "active": p.active}
                for p in page.items
            ]
            if not (cursor := page.next_cursor):
                break
        emit(
            people,
            as_json,
            lambda r: "\n".join(f"{p['email']}\t{','.join(p['roles'])}\t{p['name']}" for p in r),
        )


@user.command("set-password")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.option("--email", required=True)
@click.password_option("--password", envvar="TRUSTDESK_USER_PASSWORD")
@click.pass_context
def user_set_password(
    ctx: click.Context, account_id: str, as_email: str, email: str, password: str
) -> None:
    """Set a person's password (and lift a lockout)."""
    with node_context(ctx) as app:
        work = work_as(app, account_id, as_email, "admin")
        people = People(work, app.extensions["trustdesk"].passwords)
        target = people.store.by_email(email.lower())
        if target is None:
            raise click.ClickException(f"no person {email} in account {account_id}")
        people.update(target.id, password=password)
        click.echo(f"password of {email} changed")
