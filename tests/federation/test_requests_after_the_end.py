"""Requests raised on the customer's node after the MSP ended their offering, before the
end reached that node, stay with the customer: the MSP never reaches them, and their
requesters are told so on each request (DESIGN section 5: expiring an offering stops new
requests at once; requests raised before it stay readable to both sides until closed).

The customer's node refuses offerings for a while (503, as a node does while it
restarts) from before the MSP expires the offering, so the end waits in the MSP's outbox,
which is then driven by hand (as in ``test_rotation``): meanwhile the customer's people
still raise requests on the offering, as their node knows no end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from tests.federation.flows import deliver_pending, ok


@contextmanager
def _refusing_offerings(node: Any) -> Iterator[None]:
    """``node`` (a running node) answers 503 to every offering sent to it until the
    block ends, and everything else as usual."""
    real = node.server.app

    def refusing(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        if path.startswith("/federation/") and path.endswith("/offerings"):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"restarting"]
        return real(environ, start_response)

    node.server.app = refusing
    try:
        yield
    finally:
        node.server.app = real


def _raised_after_the_end(served) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MSP ends the offering while the customer's node refuses it; a request is
    raised there meanwhile; then the end arrives. Returns the MSP's answer to the
    expiry and the request."""
    with _refusing_offerings(served.customer):
        with served.msp.client(served.msp_account.admin) as msp:
            expired = ok(msp.post(f"/api/v1/offerings/{served.offering['id']}/expire"))
            queued = ok(msp.get("/api/v1/audit", params={"action": "offering.expiry_queued"}))
        assert queued["items"], "the end was delivered at once"
        body = {"subject": "Raised after the end", "offering_id": served.request["offering_id"]}
        with served.customer.client(served.customer_account.end_user) as customer:
            late = ok(customer.post("/api/v1/requests", json=body), 201)
    assert datetime.fromisoformat(late["created_at"]) >= datetime.fromisoformat(expired["ends_at"])
    deliver_pending(served.msp, served.msp_account.id)
    with served.customer.client(served.customer_account.admin) as customer:
        held = ok(customer.get(f"/api/v1/offerings/{served.request['offering_id']}"))
    assert (held["ends_at"], held["open"]) == (expired["ends_at"], False)
    return dict(expired), dict(late)


def test_the_msp_never_reaches_a_request_raised_after_the_end_it_signed(served):
    _, late = _raised_after_the_end(served)

    trust_requests = f"/api/v1/trusts/{served.trust}/requests"
    with served.msp.client(served.msp_account.specialist) as msp:
        for sort in ("urgency", "newest"):  # the inbox's page and the list
            page = ok(msp.get(trust_requests, params={"sort": sort}))
            assert [r["id"] for r in page["items"]] == [served.request["id"]], sort
        assert msp.get(f"{trust_requests}/{late['id']}").status_code == 404
        worked = msp.patch(f"{trust_requests}/{late['id']}", json={"status": "in_progress"})
        assert worked.status_code == 404
        noted = msp.post(f"{trust_requests}/{late['id']}/notes", json={"body": "On it."})
        assert noted.status_code == 404
        # The request raised before the end stays readable and workable until closed.
        assert ok(msp.get(f"{trust_requests}/{served.request['id']}"))["status"] == "new"
        moved = ok(
            msp.patch(f"{trust_requests}/{served.request['id']}", json={"status": "in_progress"})
        )
        assert moved["status"] == "in_progress"
    with served.customer.client(served.customer_account.end_user) as customer:
        assert ok(customer.get(f"/api/v1/requests/{late['id']}"))["status"] == "new"


def test_the_requester_of_a_request_raised_after_the_end_is_told_on_the_request(served):
    expired, late = _raised_after_the_end(served)

    with served.customer.client(served.customer_account.end_user) as customer:
        timeline = ok(customer.get(f"/api/v1/requests/{late['id']}/timeline"))
        earlier = ok(customer.get(f"/api/v1/requests/{served.request['id']}/timeline"))
    [told] = [e for e in timeline if e["kind"] == "offering_ended"]
    assert told["public"] is True
    assert told["actor"]["vouched_by"] == served.msp_account.id
    assert told["data"]["ends_at"] == expired["ends_at"]
    assert "does not see or work requests raised after the end" in told["body"]
    assert "offering_ended" not in [e["kind"] for e in earlier]
    with served.customer.client(served.customer_account.auditor) as auditor:
        audit = ok(auditor.get("/api/v1/audit", params={"action": "request.raised_after_end"}))
        assert [e["target_id"] for e in audit["items"]] == [late["id"]]
        assert ok(auditor.get("/api/v1/audit/verify"))["ok"] is True


def test_a_revision_cannot_move_the_end_into_the_past(served):
    """Only an expiry makes requests raised after the end, and only for as long as its
    notice takes: an end set in the past would take back requests raised since."""
    before_the_request = served.request["created_at"]  # after the offering's start
    path = f"/api/v1/offerings/{served.offering['id']}"
    with served.msp.client(served.msp_account.admin) as msp:
        refused = msp.patch(path, json={"ends_at": before_the_request})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == {
            "ends_at": ["must not be in the past: to end the offering now, expire it"]
        }
        assert ok(msp.get(path))["revision"] == served.offering["revision"]
    with served.msp.client(served.msp_account.specialist) as msp:
        page = ok(msp.get(f"/api/v1/trusts/{served.trust}/requests"))
    assert [r["id"] for r in page["items"]] == [served.request["id"]]
