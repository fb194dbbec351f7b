"""The trust handshake between two real nodes: invite, propose, countersign, deactivate."""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from tests.federation.flows import cli_env, lying


def _invite(federation) -> dict:
    with federation.msp.client(federation.msp_account.admin) as msp:
        response = msp.post("/api/v1/trusts/invitations")
    assert response.status_code == 201, response.text
    return response.json()


def _propose(federation, invitation: dict) -> httpx.Response:
    with federation.customer.client(federation.customer_account.admin) as customer:
        return customer.post(
            "/api/v1/trusts",
            json={k: invitation[k] for k in ("node_url", "account", "fingerprint", "code")},
        )


def _trusts(node, member) -> list[dict]:
    with node.client(member) as client:
        return client.get("/api/v1/trusts").json()["items"]


def _establish(federation) -> str:
    proposed = _propose(federation, _invite(federation))
    assert proposed.status_code == 201, proposed.text
    trust_id = proposed.json()["id"]
    with federation.msp.client(federation.msp_account.admin) as msp:
        accepted = msp.post(f"/api/v1/trusts/{trust_id}/accept")
    assert accepted.status_code == 200, accepted.text
    return trust_id


def test_a_trust_is_proposed_countersigned_and_active_on_both_nodes(federation):
    invitation = _invite(federation)
    assert invitation["account"] == federation.msp_account.id
    assert invitation["fingerprint"].startswith("SHA256:")
    proposed = _propose(federation, invitation)
    assert proposed.status_code == 201, proposed.text
    trust = proposed.json()
    assert (trust["role"], trust["status"]) == ("trusting", "proposed")
    [waiting] = _trusts(federation.msp, federation.msp_account.admin)
    assert (waiting["id"], waiting["role"], waiting["status"]) == (
        trust["id"],
        "trusted",
        "proposed",
    )

    with federation.msp.client(federation.msp_account.admin) as msp:
        accepted = msp.post(f"/api/v1/trusts/{trust['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    [theirs] = _trusts(federation.customer, federation.customer_account.admin)
    [ours] = _trusts(federation.msp, federation.msp_account.admin)
    assert theirs["status"] == ours["status"] == "active"
    assert theirs["agreement"] == ours["agreement"]
    assert len(ours["agreement"]["signatures"]) == 2
    # Each side shows the other by the name the agreement (signed by both) gives it.
    assert theirs["peer_name"] == f"Account {federation.msp_account.id}"
    assert ours["peer_name"] == f"Account {federation.customer_account.id}"


def test_a_wrong_fingerprint_stops_the_proposal_before_anything_is_sent(federation):
    invitation = {**_invite(federation), "fingerprint": "SHA256:" + "A" * 43}
    response = _propose(federation, invitation)
    assert response.status_code == 422
    assert "fingerprint" in response.json()["errors"]
    assert _trusts(federation.msp, federation.msp_account.admin) == []


def test_an_invitation_code_works_once(federation):
    invitation = _invite(federation)
    assert _propose(federation, invitation).status_code == 201
    again = _propose(federation, invitation)
    assert again.status_code == 502
    assert again.json()["code"] == "peer_declined"
    with federation.msp.client(federation.msp_account.auditor) as msp:
        refused = msp.get("/api/v1/audit", params={"action": "federation.refused"}).json()["items"]
    assert refused[0]["after"] == {"reason": "invitation_invalid"}


def test_deactivation_ends_the_trust_on_both_sides(federation):
    trust_id = _establish(federation)
    with federation.customer.client(federation.customer_account.admin) as customer:
        response = customer.post(f"/api/v1/trusts/{trust_id}/deactivate")
    assert response.json()["status"] == "deactivated"
    [ours] = _trusts(federation.msp, federation.msp_account.admin)
    assert ours["status"] == "deactivated"
    assert ours["deactivated_by"].endswith("(peer notice)")
    with federation.msp.client(federation.msp_account.admin) as msp:
        assert msp.post(f"/api/v1/trusts/{trust_id}/accept").status_code == 409


def test_deactivation_holds_even_when_the_notice_is_lost(federation):
    trust_id = _establish(federation)
    federation.msp.server.shutdown()  # the MSP node is down: the notice cannot arrive
    with federation.customer.client(federation.customer_account.admin) as customer:
        response = customer.post(f"/api/v1/trusts/{trust_id}/deactivate")
        assert response.json()["status"] == "deactivated"
        audit = customer.get("/api/v1/audit", params={"action": "trust.notice_undelivered"})
    assert audit.json()["items"][0]["target_id"] == trust_id


def test_a_replayed_federation_call_is_refused(federation):
    trust_id = _establish(federation)
    captured = {}
    import trust.client as client_module

    original = client_module.PeerClient._send

    def capture(self, pool, request, *rest):
        captured["request"] = request
        return original(self, pool, request, *rest)

    client_module.PeerClient._send = capture
    try:
        with federation.customer.client(federation.customer_account.admin) as customer:
            customer.post(f"/api/v1/trusts/{trust_id}/deactivate")
    finally:
        client_module.PeerClient._send = original
    replay = captured["request"]
    response = httpx.post(str(replay.url), headers=dict(replay.headers), content=replay.content)
    assert response.status_code == 401
    assert response.json()["reason"] == "nonce_replayed"


def test_operators_can_do_the_handshake_from_the_cli(federation, tmp_path):

    from click.testing import CliRunner

    from account_node.cli import main as cli

    runner = CliRunner()
    msp_admin = ["--account", federation.msp_account.id, "--as", federation.msp_account.admin.email]
    customer = federation.customer_account
    customer_admin = ["--account", customer.id, "--as", customer.admin.email]
    invited = runner.invoke(cli, ["trust", "invite", *msp_admin], env=cli_env(federation.msp))
    assert invited.exit_code == 0, invited.output
    expires = json.loads(invited.output)["expires_at"]
    assert datetime.fromisoformat(expires).tzinfo is not None and "T" in expires  # as the API
    (tmp_path / "invitation.json").write_text(invited.output)
    proposed = runner.invoke(
        cli,
        ["trust", "propose", *customer_admin, str(tmp_path / "invitation.json")],
        env=cli_env(federation.customer),
    )
    assert proposed.exit_code == 0, proposed.output
    trust_id = proposed.output.split()[1]
    accepted = runner.invoke(
        cli, ["trust", "accept", *msp_admin, trust_id], env=cli_env(federation.msp)
    )
    assert accepted.output.strip() == f"trust {trust_id} is active"
    listed = runner.invoke(
        cli, ["trust", "list", *customer_admin, "--json"], env=cli_env(federation.customer)
    )
    assert json.loads(listed.output)[0]["status"] == "active"


def test_a_key_rotation_keeps_the_trust_working(federation):
    trust_id = _establish(federation)
    with federation.msp.client(federation.msp_account.admin) as msp:
        before = {k["key_id"] for k in msp.get("/api/v1/keys").json()}
        rotated = msp.post("/api/v1/keys/rotate").json()
        assert rotated["delivered"] == [federation.customer_account.id]
        assert rotated["pending"] == []
        keys = {k["key_id"]: k["status"] for k in msp.get("/api/v1/keys").json()}
        assert {k for k, s in keys.items() if s == "previous"} == before
        # The next signed call comes from the new key, and the customer accepts it.
        assert msp.post(f"/api/v1/trusts/{trust_id}/deactivate").status_code == 200
    [theirs] = _trusts(federation.customer, federation.customer_account.admin)
    assert theirs["status"] == "deactivated"
    assert theirs["deactivated_by"].endswith("(peer notice)")


def test_a_descriptor_holding_a_lone_surrogate_is_garbage_and_nothing_is_written(federation):
    """The peer's node names its account with text no database can store (``\\ud800``):
    its answer is refused whole as the peer's failure (502), in its own words never, and
    neither side keeps a trust."""
    invitation = _invite(federation)

    def lone_surrogate_name(descriptor: dict) -> dict:
        for entry in descriptor["document"]["accounts"]:
            entry["name"] = "Evil \ud800 Corp"
        return descriptor

    with lying(federation.msp, "/.well-known/trustdesk-node", lone_surrogate_name):
        response = _propose(federation, invitation)
    assert response.status_code == 502, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "peer_unavailable"
    assert problem["detail"] == "the peer's answer held text that cannot be stored"
    assert "Evil" not in response.text
    assert _trusts(federation.customer, federation.customer_account.admin) == []
    assert _trusts(federation.msp, federation.msp_account.admin) == []
    # The invitation is unused: once the peer answers honestly, the proposal goes through.
    assert _propose(federation, invitation).status_code == 201


def test_a_call_under_a_trust_still_proposed_is_refused_as_pending_not_as_over(federation):
    """Deactivation is final and a sender gives up on it (trust_inactive); a trust still
    proposed on the receiver, whose keys it holds (from another trust with the peer, or
    a countersignature whose answer was lost), may yet become active: its refusal says
    so, and the sender's outbox tries again."""
    from sqlalchemy import update

    from account_node.db import db
    from account_node.tenancy import AccountScope, bind_scope
    from trust.errors import PeerDeclined
    from trust.models import Trust
    from trust.outbox import node_handshake, outbox_work

    trust_id = _establish(federation)
    with federation.msp.app.app_context():  # as if its acceptance had not committed
        bind_scope(db.session(), AccountScope(federation.msp_account.id))
        db.session.execute(update(Trust).where(Trust.id == trust_id).values(status="proposed"))
        db.session.commit()
    node = federation.customer.app.extensions["trustdesk"]
    account = federation.customer_account.id
    msp = federation.msp_account.id
    with federation.customer.app.app_context():
        handshake = node_handshake(node, outbox_work(node, account))
        try:
            handshake.peers.post_signed(
                f"{federation.msp.url}/federation/v1/{msp}/trusts/{trust_id}/events",
                {}, handshake.keys.current(), now=int(node.clock.now().timestamp()),
                trust_id=trust_id,
            )  # fmt: skip
        except PeerDeclined as refused:
            assert refused.extensions["peer_code"] == "trust_pending"
        else:
            raise AssertionError("a call under a proposed trust was taken")
