"""``trustdesk outbox``: what an account's outbox holds (trust.deliveries), on the node."""

from __future__ import annotations

from typing import Any

import click

from account_node.cli.common import emit, hosted_scope, node_context
from account_node.cli.group import main
from account_node.db import db
from trust.deliveries import STATES

LIMIT = 200


@main.group()
def outbox() -> None:
    """Signed calls to peers that must arrive: what is pending, waiting, done."""


@outbox.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--state", type=click.Choice(STATES))
@click.option("--peer", help="a peer account id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_list(
    ctx: click.Context, account_id: str, state: str | None, peer: str | None, as_json: bool
) -> None:
    """The account's outbox messages, oldest first (the first 200), with their state,
    attempts, next attempt and last failure: where a peer that stays down or refuses the
    account's key shows first. ``GET /api/v1/outbox`` gives the same, by page."""
    from trust.deliveries import Deliveries, delivery
    from trust.schemas import DeliveryOut

    with node_context(ctx) as app:
        scope = hosted_scope(app, account_id)
        page = Deliveries(db.session, scope).listing(None, LIMIT, state=state, peer=peer)
        rows = DeliveryOut(many=True).dump([delivery(m) for m in page.items])
        emit(rows, as_json, _text)


def _text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "the outbox holds nothing of that"

    def line(m: dict[str, Any]) -> str:
        when = m["next_attempt_at"] or m["delivered_at"] or m["abandoned_at"] or ""
        error = f"\n  {m['last_error']}" if m["last_error"] and m["state"] != "delivered" else ""
        return (
            f"{m['state']}\t{m['peer_account']}\t{m['kind']}\t{m['attempts']} attempt(s)"
            f"\t{when}\t{m['id']}{error}"
        )

    return "\n".join(line(m) for m in rows)
