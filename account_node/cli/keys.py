"""``trustdesk key``: the account's own signing keys (rotation: DESIGN section 5)."""

from __future__ import annotations

from typing import Any

import click

from account_node.cli.common import emit, handshake, hosted_scope, node_context, work_as
from account_node.cli.group import main
from account_node.db import db


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

    with node_context(ctx) as app:
        wired = handshake(app, work_as(app, account_id, as_email, "admin"))
        report = rotate(wired, db.session.commit, compromised=compromised)
        emit(RotationOut().dump(report), as_json, _rotation_text)


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

    with node_context(ctx) as app:
        scope = hosted_scope(app, account_id)
        clock = app.extensions["trustdesk"].clock
        keys = AccountKeys(db.session, scope, clock, app.config["SECRET_KEY"])
        keys.current()  # made on first use, as the descriptor would
        rows = [key_listing(row) for row in reversed(keys.listed())]
        emit(rows, as_json, _keys_text)


def _keys_text(rows: list[dict[str, Any]]) -> str:
    def line(k: dict[str, Any]) -> str:
        until = f" until {k['retired_at']}" if k["retired_at"] else ""
        return (
            f"{k['status']}\t{k['key_id']}\t{k['fingerprint']}\tvalid from {k['created_at']}{until}"
        )

    return "\n".join(line(k) for k in rows)


@key.command("peers")
@click.option("--account", "account_id", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def key_peers(ctx: click.Context, account_id: str, as_json: bool) -> None:
    """Whether each peer of an active trust holds the account's current key (holds,
    announcing, refused, unconfirmed, unknown), as its answers tell; a peer marked
    "must confirm" needs its admin to confirm the fingerprint (key show)."""
    from trust.key_status import peer_key_states
    from trust.schemas import PeerKeyStatusOut

    with node_context(ctx) as app:
        scope = hosted_scope(app, account_id)
        states = [s.as_dict() for s in peer_key_states(db.session, scope)]
        emit(PeerKeyStatusOut(many=True).dump(states), as_json, _peers_text)


def _peers_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no active trusts"

    def line(p: dict[str, Any]) -> str:
        must = "\tmust confirm" if p["must_confirm"] else ""
        return f"{p['peer_account']}\t{p['state']}\tsince {p['since']}{must}\n  {p['detail']}"

    return "\n".join(line(p) for p in rows)
