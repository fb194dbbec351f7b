"""``trustdesk trust``: trusts with other accounts (the handshake of DESIGN section 5)."""

from __future__ import annotations

import json
from typing import Any

import click

from account_node.cli.common import as_json_text, emit, handshake, node_context, work_as
from account_node.cli.group import main
from account_node.db import db


@main.group()
def trust() -> None:
    """Trusts with other accounts (the handshake of DESIGN section 5)."""


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
    with node_context(ctx) as app:
        invitation = handshake(app, work_as(app, account_id, as_email, "admin")).invite()
        click.echo(as_json_text(invitation))


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
    with node_context(ctx) as app:
        proposed = handshake(app, work_as(app, account_id, as_email, "admin")).propose(invitation)
        click.echo(f"trust {proposed.id} proposed to {proposed.peer_account}")


@trust.command("accept")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("trust_id")
@click.pass_context
def trust_accept(ctx: click.Context, account_id: str, as_email: str, trust_id: str) -> None:
    with node_context(ctx) as app:
        accepted = handshake(app, work_as(app, account_id, as_email, "admin")).accept(trust_id)
        click.echo(f"trust {accepted.id} is {accepted.status}")


@trust.command("deactivate")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.argument("trust_id")
@click.pass_context
def trust_deactivate(ctx: click.Context, account_id: str, as_email: str, trust_id: str) -> None:
    """End a trust, finally; the peer is told."""
    from trust.ending import Deactivations

    with node_context(ctx) as app:
        wired = handshake(app, work_as(app, account_id, as_email, "admin"))
        ended = Deactivations(wired).deactivate(trust_id, db.session.commit)
        click.echo(f"trust {ended.id} is {ended.status}")


@trust.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--as", "as_email", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def trust_list(ctx: click.Context, account_id: str, as_email: str, as_json: bool) -> None:
    with node_context(ctx) as app:
        wired = handshake(app, work_as(app, account_id, as_email, "admin", "auditor"))
        rows, cursor = [], None
        while True:  # every trust: ended ones stay on record, and a first page held only those
            page = wired.trusts.page(cursor, 200)
            rows += [_trust_row(t) for t in page.items]
            if not (cursor := page.next_cursor):
                break
        emit(rows, as_json, lambda r: "\n".join("\t".join(str(v) for v in t.values()) for t in r))


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
    with node_context(ctx) as app:
        wired = handshake(app, work_as(app, account_id, as_email, "admin"))
        confirmed = confirm_peer_key(wired, trust_id, fingerprint)
        revoked = ", ".join(confirmed["revoked"]) or "none"
        click.echo(f"key {confirmed['key']} of {confirmed['peer_account']} confirmed")
        click.echo(f"revoked: {revoked}")
