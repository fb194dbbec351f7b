"""``trustdesk token``: personal API tokens."""

from __future__ import annotations

import click

from account_node.cli.common import emit, node_context, work_as
from account_node.cli.group import main
from account_node.identity.service import Tokens


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
    with node_context(ctx) as app:
        work = work_as(app, account_id, email)
        _issued, secret = Tokens(work).issue(work.actor.person_id, name, days)
        click.echo(secret)


@token.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--email", required=True, help="whose tokens (and who asks)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_list(ctx: click.Context, account_id: str, email: str, as_json: bool) -> None:
    """A person's tokens: ids, names, expiry and revocation (never the secrets)."""
    with node_context(ctx) as app:
        work = work_as(app, account_id, email)
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
        emit(
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
    with node_context(ctx) as app:
        Tokens(work_as(app, account_id, as_email, "admin")).revoke(token_id)
        click.echo(f"token {token_id} revoked")
