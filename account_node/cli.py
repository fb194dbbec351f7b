"""The ``trustdesk`` command line (also ``python -m account_node``).

Commands that change data name the person they act as (``--as EMAIL``), who must be an
admin of the account: the audit log never records an anonymous change.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask

from account_node.context import Work
from account_node.db import db
from account_node.errors import NodeError
from account_node.identity.accounts import Accounts
from account_node.identity.authentication import principal_of
from account_node.identity.service import People, Tokens
from account_node.identity.store import PeopleStore
from account_node.settings import Settings, SettingsError, load_settings
from account_node.tenancy import AccountScope


@click.group()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """TrustDesk account node."""
    try:
        ctx.obj = load_settings(config_file)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj  # type: ignore[no-any-return]


@contextmanager
def _node_context(ctx: click.Context) -> Iterator[Flask]:
    """An app context whose session commits if the command succeeds."""
    from account_node.app import create_app

    try:
        app = create_app(_settings(ctx))
    except NodeError as exc:
        raise click.ClickException(exc.detail) from exc
    with app.app_context():
        try:
            yield app
            db.session.commit()
        except NodeError as exc:
            db.session.rollback()
            raise click.ClickException(_describe(exc)) from exc
        finally:
            db.session.remove()
            app.extensions["trustdesk"].close()


def _describe(error: NodeError) -> str:
    lines = [error.detail]
    lines += [f"  {field}: {'; '.join(msgs)}" for field, msgs in error.errors.items()]
    return "\n".join(lines)


def _work_as(app: Flask, account_id: str, email: str, *roles: str) -> Work:
    node = app.extensions["trustdesk"]
    Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords).get(account_id)
    person = PeopleStore(db.session, AccountScope(account_id)).by_email(email.lower())
    if person is None or not person.active:
        raise click.ClickException(f"no active person {email} in account {account_id}")
    who = principal_of(person, "cli")
    if roles and not who.has(*roles):
        raise click.ClickException(f"{email} needs one of the roles {', '.join(roles)}")
    return Work(db.session, who.scope, who.actor, node.clock, node.jobs, node.settings, who.roles)


def _emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text(data))


# --- db -------------------------------------------------------------------------------


@main.group()
def db_group() -> None:
    """Database schema."""


main.add_command(db_group, "db")


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply migrations (and on PostgreSQL, RLS policies and the runtime role's grants)."""
    from account_node.migrations import upgrade

    settings = _settings(ctx)
    if not settings.is_postgresql:
        from pathlib import Path

        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    upgrade(
        settings.effective_migration_url,
        settings.database_app_role,
        app_password=settings.database_app_password,
    )
    click.echo("database is up to date")


# --- accounts, people, tokens -----------------------------------------------------------


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
    with _node_context(ctx) as app:
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
    with _node_context(ctx) as app:
        node = app.extensions["trustdesk"]
        rows = [
            {"id": a.id, "name": a.name, "kind": a.kind, "active": a.active}
            for a in Accounts(
                db.session, node.clock, node.jobs, node.settings, node.passwords
            ).all()
        ]
        _emit(rows, as_json, lambda r: "\n".join(f"{a['id']}\t{a['kind']}\t{a['name']}" for a in r))


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
    with _node_context(ctx) as app:
        work = _work_as(app, account_id, as_email, "admin")
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
    with _node_context(ctx) as app:
        work = _work_as(app, account_id, as_email, "admin", "auditor")
        people, cursor = [], None
        while True:
            page = People(work, app.extensions["trustdesk"].passwords).page(cursor, 200)
            people += [
                {"id": p.id, "email": p.email, "name": p.name, "roles": p.roles, "active": p.active}
                for p in page.items
            ]
            if not (cursor := page.next_cursor):
                break
        _emit(
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
    with _node_context(ctx) as app:
        work = _work_as(app, account_id, as_email, "admin")
        people = People(work, app.extensions["trustdesk"].passwords)
        target = people.store.by_email(email.lower())
        if target is None:
            raise click.ClickException(f"no person {email} in account {account_id}")
        people.update(target.id, password=password)
        click.echo(f"password of {email} changed")


@main.group()
def token() -> None:
    """Personal API tokens."""


@token.command("issue")
@click.option("--account", "account_id", required=True)
@click.option("--email", required=True, help="the person the token belongs to (and who issues it)")
@click.option("--name", required=True)
@click.option("--days", type=int, default=None, help="0 for no expiry")
@click.pass_context
def token_issue(ctx: click.Context, account_id: str, email: str, name: str, days: int | None):  # type: ignore[no-untyped-def]
    """Issue a token for a person; prints the secret once."""
    with _node_context(ctx) as app:
        work = _work_as(app, account_id, email)
        _issued, secret = Tokens(work).issue(work.actor.person_id, name, days)
        click.echo(secret)


@token.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--email", required=True, help="whose tokens (and who asks)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_list(ctx: click.Context, account_id: str, email: str, as_json: bool) -> None:
    """A person's tokens: ids, names, expiry and revocation (never the secrets)."""
    with _node_context(ctx) as app:
        work = _work_as(app, account_id, email)
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
                "last_used_at": t.last_used_at,
            }
            for t in Tokens(work).for_person(work.actor.person_id)
        ]
        _emit(
            rows,
            as_json,
            lambda r: "\n".join(
                f"{t['id']}\t{t['name']}\t{t['revoked_at'] or 'active'}" for t in r
            ),
        )


@token.command("revoke")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx: click.Context, account_id: str, as_email: str, token_id: str) -> None:
    with _node_context(ctx) as app:
        Tokens(_work_as(app, account_id, as_email, "admin")).revoke(token_id)
        click.echo(f"token {token_id} revoked")


# --- trusts ------------------------------------------------------------------------------


@main.group()
def trust() -> None:
    """Trusts with other accounts (the handshake of DESIGN section 5)."""


def _handshake(app: Flask, work: Work) -> Any:
    """The same wiring as the API's (inside this command's app context)."""
    from trust.api import handshake_for

    return handshake_for(work)


def _trust_row(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "role": t.role,
        "peer": t.peer_account,
        "node": t.peer_node,
        "status": t.status,
    }


@trust.command("invite")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.pass_context
def trust_invite(ctx: click.Context, account_id: str, as_email: str) -> None:
    """Print an invitation (JSON) to hand to a customer's admin out of band."""
    with _node_context(ctx) as app:
        invitation = _handshake(app, _work_as(app, account_id, as_email, "admin")).invite()
        click.echo(json.dumps(invitation, default=str, indent=2))


@trust.command("propose")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("invitation_file", type=click.File())
@click.pass_context
def trust_propose(ctx: click.Context, account_id: str, as_email: str, invitation_file: Any) -> None:
    """Propose a trust to the account whose invitation (JSON) is given."""
    from marshmallow import ValidationError

    from trust.schemas import ProposalIn

    try:
        invitation = ProposalIn().load(json.load(invitation_file), unknown="exclude")
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"the invitation is not JSON: {exc}") from exc
    except ValidationError as exc:
        fields = "; ".join(
            f"{k}: {' '.join(map(str, v))}" for k, v in exc.normalized_messages().items()
        )
        raise click.ClickException(f"the invitation is not one: {fields}") from exc
    with _node_context(ctx) as app:
        proposed = _handshake(app, _work_as(app, account_id, as_email, "admin")).propose(invitation)
        click.echo(f"trust {proposed.id} proposed to {proposed.peer_account}")


@trust.command("accept")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("trust_id")
@click.pass_context
def trust_accept(ctx: click.Context, account_id: str, as_email: str, trust_id: str) -> None:
    with _node_context(ctx) as app:
        accepted = _handshake(app, _work_as(app, account_id, as_email, "admin")).accept(trust_id)
        click.echo(f"trust {accepted.id} is {accepted.status}")


@trust.command("deactivate")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("trust_id")
@click.pass_context
def trust_deactivate(ctx: click.Context, account_id: str, as_email: str, trust_id: str) -> None:
    """End a trust, finally; the peer is told."""
    from trust.ending import Deactivations

    with _node_context(ctx) as app:
        handshake = _handshake(app, _work_as(app, account_id, as_email, "admin"))
        ended = Deactivations(handshake).deactivate(trust_id, db.session.commit)
        click.echo(f"trust {ended.id} is {ended.status}")


@trust.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def trust_list(ctx: click.Context, account_id: str, as_email: str, as_json: bool) -> None:
    with _node_context(ctx) as app:
        handshake = _handshake(app, _work_as(app, account_id, as_email, "admin", "auditor"))
        rows = [_trust_row(t) for t in handshake.trusts.page(None, 200).items]
        _emit(rows, as_json, lambda r: "\n".join("\t".join(str(v) for v in t.values()) for t in r))


@trust.command("confirm-key")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("trust_id")
@click.argument("fingerprint")
@click.pass_context
def trust_confirm_key(
    ctx: click.Context, account_id: str, as_email: str, trust_id: str, fingerprint: str
) -> None:
    """Confirm the new key of a peer that rotated after a compromise, by the fingerprint
    its admin handed over out of band: pinned, and the peer's other keys revoked."""
    from marshmallow import ValidationError

    from trust.reconfirm import confirm_peer_key
    from trust.schemas import PeerKeyIn

    try:
        PeerKeyIn().load({"fingerprint": fingerprint})
    except ValidationError as exc:
        reasons = " ".join(map(str, exc.normalized_messages().get("fingerprint", [])))
        raise click.ClickException(f"the fingerprint is not one: {reasons}") from exc
    with _node_context(ctx) as app:
        handshake = _handshake(app, _work_as(app, account_id, as_email, "admin"))
        confirmed = confirm_peer_key(handshake, trust_id, fingerprint)
        revoked = ", ".join(confirmed["revoked"]) or "none"
        click.echo(f"key {confirmed['key']} of {confirmed['peer_account']} confirmed")
        click.echo(f"revoked: {revoked}")


# --- keys ------------------------------------------------------------------------------


@main.group()
def key() -> None:
    """The account's own signing keys (rotation: DESIGN section 5)."""


@key.command("rotate")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.option("--compromised", is_flag=True, help="the key may be stolen: revoke it at once")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def key_rotate(
    ctx: click.Context, account_id: str, as_email: str, compromised: bool, as_json: bool
) -> None:
    """Rotate the account's key and tell its peers; with --compromised, revoke the old key
    and print the fingerprint each peer's admin must confirm (trust confirm-key)."""
    from trust.rotation import rotate
    from trust.schemas import RotationOut

    with _node_context(ctx) as app:
        handshake = _handshake(app, _work_as(app, account_id, as_email, "admin"))
        report = rotate(handshake, db.session.commit, compromised=compromised)
        _emit(RotationOut().dump(report), as_json, _rotation_text)


def _rotation_text(report: dict[str, Any]) -> str:
    revoked = " (revoked)" if report["compromised"] else ""
    lines = [f"key {report['old']}{revoked} replaced by {report['new']}"]
    lines.append(f"fingerprint {report['fingerprint']}")
    lines += [f"{peer}: notice delivered" for peer in report["delivered"]]
    lines += [f"{peer}: notice pending (the outbox retries)" for peer in report["pending"]]
    lines += [
        f"{peer}: its admin must confirm {report['fingerprint']} (trust confirm-key)"
        for peer in report["confirm_with"]
    ]
    return "\n".join(lines)


@key.command("show")
@click.option("--account", "account_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def key_show(ctx: click.Context, account_id: str, as_json: bool) -> None:
    """The current key and the previous ones, as the node descriptor publishes them, with
    their fingerprints to read to a peer's admin."""
    from trust.keystore import AccountKeys, key_listing

    with _node_context(ctx) as app:
        node = app.extensions["trustdesk"]
        Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords).get(account_id)
        keys = AccountKeys(
            db.session, AccountScope(account_id), node.clock, app.config["SECRET_KEY"]
        )
        keys.current()  # made on first use, as the descriptor would
        rows = [key_listing(row) for row in reversed(keys.listed())]
        _emit(rows, as_json, _keys_text)


def _keys_text(rows: list[dict[str, Any]]) -> str:
    def line(k: dict[str, Any]) -> str:
        until = f" until {k['retired_at']}" if k["retired_at"] else ""
        return (
            f"{k['status']}\t{k['key_id']}\t{k['fingerprint']}\tvalid from {k['created_at']}{until}"
        )

    return "\n".join(line(k) for k in rows)


# --- audit ----------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--account", "account_ids", multiple=True, help="default: every account")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit_verify(ctx: click.Context, account_ids: tuple[str, ...], as_json: bool) -> None:
    """Recompute each account's hash chain; exit 1 and name the first broken link if any."""
    from account_node.audit.service import AuditLog

    with _node_context(ctx) as app:
        node = app.extensions["trustdesk"]
        accounts = Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords)
        ids = list(account_ids) or [a.id for a in accounts.all()]
        reports = {i: AuditLog(db.session, AccountScope(i), node.clock).verify() for i in ids}
    results = {i: r.as_dict() for i, r in reports.items()}
    _emit(results, as_json, _chain_text)
    if not all(r.ok for r in reports.values()):
        sys.exit(1)


def _chain_text(results: dict[str, dict[str, Any]]) -> str:
    lines = []
    for account_id, r in results.items():
        if r["ok"]:
            lines.append(f"{account_id}: ok, {r['events']} events, head {r['head_hash'][:16]}")
        else:
            lines.append(f"{account_id}: BROKEN at event {r['first_broken_seq']}: {r['reason']}")
    return "\n".join(lines)


# --- running ----------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=5000)
@click.option("--workers", type=int, default=1)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve this node with gunicorn."""
    from account_node.server import serve_forever

    serve_forever(_settings(ctx), host, port, workers)


@main.command("worker")
@click.option("--queue", "queues", multiple=True, help="default: every queue")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.pass_context
def worker(ctx: click.Context, queues: tuple[str, ...], burst: bool) -> None:
    """Run background jobs from Redis (needs TRUSTDESK_REDIS_URL)."""
    from account_node.worker import run_worker

    run_worker(_settings(ctx), list(queues), burst)


@main.command("demo")
@click.option("--data-dir", default="var/demo", type=click.Path(file_okay=False))
@click.option("--base-port", default=5000, type=int)
@click.option("--exit-after-seed", is_flag=True, help="seed, print, write demo.json, then stop")
@click.pass_context
def demo(ctx: click.Context, data_dir: str, base_port: int, exit_after_seed: bool) -> None:
    """Start a demo node with seeded accounts and print its URL and logins."""
    from account_node.demo import run_demo

    run_demo(_settings(ctx), data_dir, base_port, exit_after_seed)
