"""Key rotation and peer-key confirmation from the command line, between two running
nodes: a routine rotation reaches the peer that answers and waits for the one that is
down; after a compromise the peer's admin confirms the fingerprint read to them, and a
wrong one changes nothing (DESIGN section 5, key rotation)."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from account_node.cli import main as cli
from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.federation.flows import cli_env, down, establish_trust, own_key
from trust.models import PinnedKey
from trust.reconfirm import NO_SUCH_KEY


def run(node, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=cli_env(node))
    assert result.exit_code == code, result.output
    return result.output


def acting(account) -> list[str]:
    return ["--account", account.id, "--as", account.admin.email]


def pinned(node, account_id: str) -> dict[str, bool]:
    """The keys ``account_id`` has pinned: key id → revoked."""
    with node.app.app_context():
        bind_scope(db.session(), AccountScope(account_id))
        rows: Any = db.session.scalars(select(PinnedKey)).all()
        found = {row.key_id: row.revoked_at is not None for row in rows}
        db.session.remove()
    return found


def fingerprint_of(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("fingerprint ")]
    return line.split()[1]


def test_a_rotation_from_the_cli_reaches_a_peer_that_answers_and_waits_for_one_that_is_down(
    federation,
):
    f = federation
    establish_trust(f.msp, f.msp_account, f.customer, f.customer_account)

    reached = run(f.msp, "key", "rotate", *acting(f.msp_account))
    with down(f.customer):
        waiting = run(f.msp, "key", "rotate", *acting(f.msp_account))

    assert f"{f.customer_account.id}: notice delivered" in reached
    assert f"{f.customer_account.id}: notice pending (the outbox retries)" in waiting
    shown = run(f.msp, "key", "show", "--account", f.msp_account.id).splitlines()
    assert [line.split("\t")[0] for line in shown] == ["current", "previous", "previous"]
    assert shown[0].split("\t")[2] == fingerprint_of(waiting)


def test_after_a_compromise_the_peer_admin_confirms_the_fingerprint_from_the_cli(federation):
    f = federation
    trust = establish_trust(f.msp, f.msp_account, f.customer, f.customer_account)
    stolen = own_key(f.msp, f.msp_account.id)

    rotated = run(f.msp, "key", "rotate", *acting(f.msp_account), "--compromised")
    fingerprint = fingerprint_of(rotated)
    assert f"{f.customer_account.id}: its admin must confirm {fingerprint}" in rotated
    before = pinned(f.customer, f.customer_account.id)

    wrong = stolen.signing.verify_key.fingerprint
    refused = run(
        f.customer, "trust", "confirm-key", *acting(f.customer_account), trust, wrong, code=1
    )
    assert NO_SUCH_KEY in refused and "fingerprint:" in refused
    assert pinned(f.customer, f.customer_account.id) == before

    confirmed = run(
        f.customer, "trust", "confirm-key", *acting(f.customer_account), trust, fingerprint
    )
    new = own_key(f.msp, f.msp_account.id)
    assert f"key {new.ref} of {f.msp_account.id} confirmed" in confirmed
    assert f"revoked: {stolen.ref}" in confirmed
    assert pinned(f.customer, f.customer_account.id) == {
        stolen.ref.key_id: True,
        new.ref.key_id: False,
    }
