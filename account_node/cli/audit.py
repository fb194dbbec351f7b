"""``trustdesk audit``: the tamper-evident audit log."""

from __future__ import annotations

import sys
from typing import Any

import click

from account_node.cli.common import emit, node_context
from account_node.cli.group import main
from account_node.db import db
from account_node.identity.accounts import Accounts
from account_node.tenancy import AccountScope


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

    with node_context(ctx) as app:
        node = app.extensions["trustdesk"]
        accounts = Accounts(db.session, node.clock, node.jobs, node.settings, node.passwords)
        ids = [accounts.get(i).id for i in account_ids] or [a.id for a in accounts.all()]
        reports = {i: AuditLog(db.session, AccountScope(i), node.clock).verify() for i in ids}
    results = {i: r.as_dict() for i, r in reports.items()}
    emit(results, as_json, _chain_text)
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
