"""A proposal between its sending and its acceptance: withdrawn, or outlived by a key.

Withdrawing a proposal (deactivating it before the other side accepted) reaches the other
node as any deactivation notice does, though that node has not pinned the proposer's key
yet: it checks the notice against the key the proposal names. If the notice is lost, the
proposer's node still refuses the countersignature by its own record, and the accept
fails with the same clear problem.

A routine key rotation on either side between proposal and accept does not break the
accept: the rotated side vouches for its new key with the rotation's notices (old and new
key), and the trust works afterwards in both directions. A compromise rotation does:
the accept is refused with a problem that says to propose again.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.federation.flows import down, ok


def _propose(federation) -> str:
    with federation.msp.client(federation.msp_account.admin) as msp:
        invitation = ok(msp.post("/api/v1/trusts/invitations"), 201)
    with federation.customer.client(federation.customer_account.admin) as customer:
        proposal = {k: invitation[k] for k in ("node_url", "account", "fingerprint", "code")}
        return str(ok(customer.post("/api/v1/trusts", json=proposal), 201)["id"])


def _accept(federation, trust_id: str) -> httpx.Response:
    with federation.msp.client(federation.msp_account.admin) as msp:
        return msp.post(f"/api/v1/trusts/{trust_id}/accept")


def _trust(node, member, trust_id: str) -> dict[str, Any]:
    with node.client(member) as client:
        return dict(ok(client.get(f"/api/v1/trusts/{trust_id}")))


def _deactivate(node, member, trust_id: str) -> dict[str, Any]:
    with node.client(member) as client:
        return dict(ok(client.post(f"/api/v1/trusts/{trust_id}/deactivate")))


def _rotate(node, member, *, compromised: bool = False) -> dict[str, Any]:
    with node.client(member) as client:
        return dict(ok(client.post("/api/v1/keys/rotate", json={"compromised": compromised})))


def _audited(node, member, action: str) -> list[dict[str, Any]]:
    with node.client(member) as client:
        return list(ok(client.get("/api/v1/audit", params={"action": action}))["items"])


# --- withdrawal ------------------------------------------------------------------------


def test_a_withdrawn_proposal_is_withdrawn_on_the_invited_node_and_cannot_be_accepted(
    federation,
):
    trust_id = _propose(federation)
    withdrawn = _deactivate(federation.customer, federation.customer_account.admin, trust_id)
    assert withdrawn["status"] == "deactivated"

    theirs = _trust(federation.msp, federation.msp_account.admin, trust_id)
    assert theirs["status"] == "deactivated"
    assert theirs["deactivated_by"] == f"{federation.customer_account.id} (peer notice)"
    [event] = _audited(federation.msp, federation.msp_account.auditor, "trust.deactivate")
    assert event["target_id"] == trust_id
    assert (
        _audited(
            federation.customer, federation.customer_account.auditor, "trust.notice_undelivered"
        )
        == []
    )

    refused = _accept(federation, trust_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "proposal_withdrawn"
    assert _trust(federation.customer, federation.customer_account.admin, trust_id)["status"] == (
        "deactivated"
    )


def test_an_accept_after_a_lost_withdrawal_fails_cleanly(federation):
    trust_id = _propose(federation)
    with down(federation.msp):
        _deactivate(federation.customer, federation.customer_account.admin, trust_id)
    [lost] = _audited(
        federation.customer, federation.customer_account.auditor, "trust.notice_undelivered"
    )
    assert lost["target_id"] == trust_id
    assert _trust(federation.msp, federation.msp_account.admin, trust_id)["status"] == "proposed"

    # The customer's node refuses the countersignature by its own record.
    refused = _accept(federation, trust_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "proposal_withdrawn"
    ours = _trust(federation.msp, federation.msp_account.admin, trust_id)
    assert (ours["status"], ours["activated_at"]) == ("proposed", None)
    assert len(ours["agreement"]["signatures"]) == 1
    assert _audited(federation.msp, federation.msp_account.auditor, "trust.accept") == []
    assert _trust(federation.customer, federation.customer_account.admin, trust_id)["status"] == (
        "deactivated"
    )


def test_the_invited_side_declining_a_proposal_reaches_the_proposer(federation):
    trust_id = _propose(federation)
    _deactivate(federation.msp, federation.msp_account.admin, trust_id)
    theirs = _trust(federation.customer, federation.customer_account.admin, trust_id)
    assert theirs["status"] == "deactivated"
    assert theirs["deactivated_by"] == f"{federation.msp_account.id} (peer notice)"


# --- key rotation between proposal and accept -------------------------------------------


def test_an_msp_key_rotation_between_proposal_and_accept_keeps_the_accept_working(federation):
    trust_id = _propose(federation)
    _rotate(federation.msp, federation.msp_account.admin)

    accepted = _accept(federation, trust_id)
    assert accepted.status_code == 200, accepted.text
    theirs = _trust(federation.customer, federation.customer_account.admin, trust_id)
    assert theirs["status"] == "active"
    assert theirs["agreement"] == accepted.json()["agreement"]
    [pinned] = _audited(
        federation.customer, federation.customer_account.auditor, "key.peer_rotated"
    )
    assert pinned["after"] == {"peer": federation.msp_account.id}
    # The MSP's next call, signed with its new key, is accepted by the customer.
    _deactivate(federation.msp, federation.msp_account.admin, trust_id)
    theirs = _trust(federation.customer, federation.customer_account.admin, trust_id)
    assert theirs["deactivated_by"] == f"{federation.msp_account.id} (peer notice)"


def test_a_customer_key_rotation_between_proposal_and_accept_keeps_the_accept_working(
    federation,
):
    trust_id = _propose(federation)
    _rotate(federation.customer, federation.customer_account.admin)

    accepted = _accept(federation, trust_id)
    assert accepted.status_code == 200, accepted.text
    assert (
        _trust(federation.customer, federation.customer_account.admin, trust_id)["status"]
        == "active"
    )
    [pinned] = _audited(federation.msp, federation.msp_account.auditor, "key.peer_rotated")
    assert pinned["after"] == {"peer": federation.customer_account.id}
    # The customer's next call, signed with its new key, is accepted by the MSP.
    _deactivate(federation.customer, federation.customer_account.admin, trust_id)
    theirs = _trust(federation.msp, federation.msp_account.admin, trust_id)
    assert theirs["deactivated_by"] == f"{federation.customer_account.id} (peer notice)"


def test_rotations_on_both_sides_between_proposal_and_accept_keep_the_accept_working(
    federation,
):
    trust_id = _propose(federation)
    _rotate(federation.msp, federation.msp_account.admin)
    _rotate(federation.customer, federation.customer_account.admin)
    _rotate(federation.msp, federation.msp_account.admin)

    accepted = _accept(federation, trust_id)
    assert accepted.status_code == 200, accepted.text
    _deactivate(federation.msp, federation.msp_account.admin, trust_id)
    theirs = _trust(federation.customer, federation.customer_account.admin, trust_id)
    assert theirs["deactivated_by"] == f"{federation.msp_account.id} (peer notice)"


def test_an_msp_compromise_between_proposal_and_accept_asks_for_a_new_proposal(federation):
    trust_id = _propose(federation)
    _rotate(federation.msp, federation.msp_account.admin, compromised=True)

    refused = _accept(federation, trust_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "proposal_stale"
    assert "propose again" in refused.json()["detail"]
    for node, member in (
        (federation.msp, federation.msp_account.admin),
        (federation.customer, federation.customer_account.admin),
    ):
        assert _trust(node, member, trust_id)["status"] == "proposed"


def test_a_customer_compromise_between_proposal_and_accept_asks_for_a_new_proposal(federation):
    trust_id = _propose(federation)
    _rotate(federation.customer, federation.customer_account.admin, compromised=True)

    refused = _accept(federation, trust_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "proposal_stale"
    assert "propose again" in refused.json()["detail"]
    assert _trust(federation.msp, federation.msp_account.admin, trust_id)["status"] == "proposed"
    assert (
        _trust(federation.customer, federation.customer_account.admin, trust_id)["status"]
        == "proposed"
    )
