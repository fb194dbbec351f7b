"""A deactivation racing an accept: deactivated is final, whatever the interleaving.

Deactivation is final (DESIGN section 5). Once a node has answered a deactivation with
200, nothing may make that trust active there again: not the accept on the MSP's node,
not the countersignature on the customer's, whichever runs first. A trust is never
active with ``deactivated_at`` set. And the two nodes agree once both requests have
answered: a deactivation tells the peer after its commit, within its own request (its
loss, the one way to disagree, is test_handshake_pending's: each side then refuses
calls under the trust by its own record).

The rounds start both requests from a barrier, one of them a few milliseconds later in
each round, so that the deactivation lands before the accept, while the
countersignature is out, and after it. The last two tests each put a deactivation
exactly in a window that used to lose it: while the MSP's countersignature is on its way
back (the MSP's admin declines), and while the customer's node is taking it (the
customer's admin withdraws).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.federation.flows import ok
from trust.client import PeerClient
from trust.handshake import Handshake

#: Seconds the deactivation starts after the accept (negative: before it), round by round.
OFFSETS = (0.0, 0.0, 0.003, 0.008, 0.015, 0.025, 0.04, -0.005)


def _propose(f: Any) -> str:
    with f.msp.client(f.msp_account.admin) as msp:
        invitation = ok(msp.post("/api/v1/trusts/invitations"), 201)
    with f.customer.client(f.customer_account.admin) as customer:
        proposal = {k: invitation[k] for k in ("node_url", "account", "fingerprint", "code")}
        return str(ok(customer.post("/api/v1/trusts", json=proposal), 201)["id"])


def _post(node: Any, member: Any, path: str) -> Callable[[], httpx.Response]:
    def call() -> httpx.Response:
        with node.client(member) as client:
            return client.post(path)

    return call


def _accept(f: Any, trust_id: str) -> Callable[[], httpx.Response]:
    return _post(f.msp, f.msp_account.admin, f"/api/v1/trusts/{trust_id}/accept")


def _deactivate(node: Any, member: Any, trust_id: str) -> Callable[[], httpx.Response]:
    return _post(node, member, f"/api/v1/trusts/{trust_id}/deactivate")


def _race(accept: Callable[[], Any], deactivate: Callable[[], Any], offset: float) -> list[Any]:
    """Both calls released at once by a barrier, the deactivation ``offset`` s later."""
    barrier, answers = threading.Barrier(2), [None, None]

    def run(index: int, call: Callable[[], Any], delay: float) -> None:
        barrier.wait()
        time.sleep(max(delay, 0.0))
        answers[index] = call()

    threads = [
        threading.Thread(target=run, args=(0, accept, -offset)),
        threading.Thread(target=run, args=(1, deactivate, offset)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


def _sides(f: Any, trust_id: str) -> dict[str, dict[str, Any]]:
    sides = {}
    for name, node, member in (
        ("msp", f.msp, f.msp_account.admin),
        ("customer", f.customer, f.customer_account.admin),
    ):
        with node.client(member) as client:
            sides[name] = dict(ok(client.get(f"/api/v1/trusts/{trust_id}")))
    return sides


def _assert_final(sides: dict[str, dict[str, Any]], deactivated_on: str, accepted: Any) -> None:
    """The deactivation answered 200, so its node's trust is deactivated; the peer's is
    too (it was told within that request); neither is active with ``deactivated_at``.
    The accept either won (200, and the deactivation then ended the active trust) or
    was refused as a proposal ended before it was accepted."""
    states = {name: (s["status"], s["deactivated_at"] is not None) for name, s in sides.items()}
    assert sides[deactivated_on]["status"] == "deactivated", states
    assert states == {"msp": ("deactivated", True), "customer": ("deactivated", True)}
    assert accepted.status_code == 200 or (
        accepted.status_code == 409 and accepted.json()["code"] == "proposal_withdrawn"
    ), accepted.text


@pytest.mark.parametrize("who", ["msp", "customer"])
def test_a_deactivation_racing_the_accept_stays_final_on_both_nodes(federation, who):
    """``msp``: the MSP's admin declines while another accepts; ``customer``: the
    customer's admin withdraws the proposal while the MSP accepts it."""
    f = federation
    node, member = (
        (f.msp, f.msp_account.admin) if who == "msp" else (f.customer, f.customer_account.admin)
    )
    for offset in OFFSETS:
        trust_id = _propose(f)
        accepted, deactivated = _race(
            _accept(f, trust_id), _deactivate(node, member, trust_id), offset
        )
        assert deactivated.status_code == 200, deactivated.text
        assert deactivated.json()["status"] == "deactivated"
        _assert_final(_sides(f, trust_id), who, accepted)


def test_a_decline_while_the_countersignature_is_out_is_final(federation, monkeypatch):
    """The customer's node has taken the countersignature; before the MSP's accept writes
    its own side, its admin declines. On PostgreSQL the decline waits for the accept's
    row lock and then ends the active trust; on SQLite (where the accept writes after
    the call) the accept finds the trust ended and is refused. Either way the decline
    is final, and its notice ends the customer's side too."""
    f = federation
    trust_id = _propose(f)
    declined: list[httpx.Response] = []
    real = PeerClient.post_signed

    def post_signed(self: PeerClient, url: str, body: Any, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, url, body, *args, **kwargs)
        if url.endswith("/countersignature") and not declined:
            _meanwhile(lambda: declined.append(_deactivate(f.msp, f.msp_account.admin, trust_id)()))
        return answer

    monkeypatch.setattr(PeerClient, "post_signed", post_signed)
    accepted = _accept(f, trust_id)()
    _settle(lambda: bool(declined))
    assert ok(declined[0])["status"] == "deactivated"
    _assert_final(_sides(f, trust_id), "msp", accepted)


def test_a_withdrawal_while_the_countersignature_is_taken_is_final(federation, monkeypatch):
    """The customer's node has checked the countersignature and not yet written it when
    its admin withdraws the proposal. The countersignature holds the trust's row until
    it commits, so the withdrawal then ends the active trust (never the reverse: an
    activation over a 200 withdrawal); its notice ends the MSP's side."""
    f = federation
    trust_id = _propose(f)
    withdrawn: list[httpx.Response] = []
    real = Handshake.notices_since

    def notices_since(self: Handshake, keyid: str) -> list[dict[str, Any]]:
        if self.account == f.customer_account.id and not withdrawn:
            customer = f.customer_account.admin
            _meanwhile(lambda: withdrawn.append(_deactivate(f.customer, customer, trust_id)()))
        return real(self, keyid)

    monkeypatch.setattr(Handshake, "notices_since", notices_since)
    accepted = _accept(f, trust_id)()
    _settle(lambda: bool(withdrawn))
    assert ok(withdrawn[0])["status"] == "deactivated"
    _assert_final(_sides(f, trust_id), "customer", accepted)


def _meanwhile(call: Callable[[], None]) -> None:
    """Run ``call`` in another thread and give it a second: long enough to finish, unless
    it waits on a lock held by the step that started it (then it goes on after it)."""
    thread = threading.Thread(target=call)
    thread.start()
    thread.join(1.0)


def _settle(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert done()
