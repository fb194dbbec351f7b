"""Every refusal of the visibility API: its own stable reason, audited, nothing changed.

Calls are crafted here with the MSP account's real key (or a forged one) so that each
check of DESIGN section 5 can be failed on its own: pinned key, signature, window,
nonce, digest, then the trust and the offering in the customer's own records.
"""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from account_node.db import db
from account_node.tenancy import AccountScope
from tests.federation.flows import ok
from trust.crypto.httpsig import HttpRequestParts, sign_request
from trust.crypto.keys import SigningKey
from trust.keystore import AccountKeys


def _msp_key(served):
    app = served.msp.app
    node = app.extensions["trustdesk"]
    with app.app_context():
        keys = AccountKeys(
            db.session(), AccountScope(served.msp_account.id), node.clock, app.config["SECRET_KEY"]
        )
        return keys.current()


def _call(served, path, *, body=None, key=None, keyid=None, created=None, trust=None,
          nonce=None, tamper=None, actor=True):  # fmt: skip
    """One signed call to the customer's federation API, with one thing possibly wrong.
    ``actor``: the MSP's specialist acts (True), nobody is named (False), or this id."""
    own = _msp_key(served)
    url = (
        f"{served.customer.url}/federation/v1/{served.customer_account.id}"
        f"/trusts/{served.trust}{path}"
    )
    headers = {"TrustDesk-Trust": trust or served.trust}
    if actor:
        named = actor if isinstance(actor, str) else served.msp_account.specialist.id
        headers["TrustDesk-Actor"] = named
    content = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode()
    parts = HttpRequestParts("POST" if body is not None else "GET", url, headers, content)
    clock = served.msp.app.extensions["trustdesk"].clock
    sign_request(
        parts,
        key or own.signing,
        keyid=keyid or str(own.ref),
        created=created if created is not None else int(clock.now().timestamp()),
        nonce=nonce,
    )
    sent = tamper(content) if tamper else content
    return httpx.request(parts.method, url, headers=dict(parts.headers), content=sent or None)


def _refusals(served) -> list[str]:
    with served.customer.client(served.customer_account.auditor) as customer:
        items = ok(customer.get("/api/v1/audit", params={"action": "federation.refused"}))
    return [item["after"]["reason"] for item in items["items"]]


def _notes(served) -> int:
    with served.customer.client(served.customer_account.admin) as customer:
        timeline = ok(customer.get(f"/api/v1/requests/{served.request['id']}/timeline"))
    return sum(1 for event in timeline if event["kind"] == "note")


def test_a_well_formed_call_is_answered(served):
    response = _call(served, "/requests")
    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["items"]] == [served.request["id"]]


NOTE = {"body": "Should never be written", "actor_name": "Mallory"}
NOW_OFFSET = 3600


@pytest.mark.parametrize(
    ("case", "reason", "status"),
    [
        ("forged signature", "signature_invalid", 401),
        ("unpinned key", "key_unknown", 401),
        ("stale created", "signature_expired", 401),
        ("future created", "signature_not_yet_valid", 401),
        ("body not matching its digest", "digest_mismatch", 401),
        ("signature for another trust", "trust_not_covered", 403),
    ],
)
def test_a_bad_call_is_refused_with_its_own_reason(served, case, reason, status):
    now = int(served.msp.app.extensions["trustdesk"].clock.now().timestamp())
    variants = {
        "forged signature": {"key": SigningKey.generate()},
        "unpinned key": {"key": SigningKey.generate(), "keyid": "stranger#k1"},
        "stale created": {"created": now - NOW_OFFSET},
        "future created": {"created": now + NOW_OFFSET},
        "body not matching its digest": {"tamper": lambda c: c.replace(b"never", b"surely")},
        "signature for another trust": {"trust": "trust-someone-else"},
    }
    notes = _notes(served)
    response = _call(served, f"/requests/{served.request['id']}/notes", body=NOTE, **variants[case])
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["reason"] == reason
    assert _refusals(served)[0] == reason
    assert _notes(served) == notes  # nothing written


def test_a_replayed_call_is_refused(served):
    nonce = secrets.token_urlsafe(16)
    assert _call(served, "/requests", nonce=nonce).status_code == 200
    again = _call(served, "/requests", nonce=nonce)
    assert (again.status_code, again.json()["reason"]) == (401, "nonce_replayed")
    assert _refusals(served)[0] == "nonce_replayed"


def test_an_action_that_names_no_person_is_refused(served):
    notes = _notes(served)
    response = _call(served, f"/requests/{served.request['id']}/notes", body=NOTE, actor=False)
    assert (response.status_code, response.json()["reason"]) == (403, "actor_missing")
    assert _notes(served) == notes


def test_a_request_outside_the_offerings_is_refused(served):
    with served.customer.client(served.customer_account.admin) as customer:
        # A request of the customer's own, on no offering of the trust.
        calendar = ok(customer.post("/api/v1/calendars", json={"name": "Own", "definition": {
            "timezone": "UTC", "weekly": {"mon": [["09:00", "17:00"]]}}}), 201)["id"]  # fmt: skip
        targets = {p: {"response": 60, "resolution": 240} for p in ("p1", "p2", "p3", "p4")}
        sla = ok(customer.post("/api/v1/slas", json={"name": "Own", "calendar_id": calendar,
                                                      "targets": targets}), 201)["id"]  # fmt: skip
        service = ok(
            customer.post("/api/v1/services", json={"name": "Internal", "default_sla_id": sla}),
            201,
        )["id"]
        raised = customer.post(
            "/api/v1/requests", json={"subject": "Private", "service_id": service}
        )
        own = ok(raised, 201)
    for path in (f"/requests/{own['id']}", f"/requests/{own['id']}/notes"):
        response = _call(served, path, body=NOTE if path.endswith("notes") else None)
        assert (response.status_code, response.json()["reason"]) == (
            404,
            "request_outside_offering",
        )
    listed = _call(served, "/requests").json()["items"]
    assert own["id"] not in [i["id"] for i in listed]


def test_a_closed_request_of_an_expired_offering_is_out_of_reach(served):
    with served.customer.client(served.customer_account.admin) as customer:
        for status in ("in_progress", "resolved", "closed"):
            ok(customer.patch(f"/api/v1/requests/{served.request['id']}",
                              json={"status": status}))  # fmt: skip
    with served.msp.client(served.msp_account.admin) as msp:
        ok(msp.post(f"/api/v1/offerings/{served.offering['id']}/expire"))
    response = _call(served, f"/requests/{served.request['id']}")
    assert (response.status_code, response.json()["reason"]) == (403, "offering_expired")
    assert _refusals(served)[0] == "offering_expired"


def test_an_open_request_of_an_expired_offering_stays_workable(served):
    with served.msp.client(served.msp_account.admin) as msp:
        ok(msp.post(f"/api/v1/offerings/{served.offering['id']}/expire"))
    response = _call(served, f"/requests/{served.request['id']}")
    assert response.status_code == 200, response.text


def test_strangers_cannot_flood_the_audit_log(served, monkeypatch):
    """Unsigned calls name nobody: the first is audited, the rest of the minute counted
    into the next record, so the account's chain does not grow with a stranger's rate."""
    from trust import refusals

    url = (
        f"{served.customer.url}/federation/v1/{served.customer_account.id}"
        f"/trusts/{served.trust}/requests"
    )
    for _ in range(5):
        response = httpx.get(url)
        assert (response.status_code, response.json()["reason"]) == (401, "signature_missing")
    assert _refusals(served) == ["signature_missing"]
    monkeypatch.setattr(refusals, "WINDOW_SECONDS", 0.0)  # a minute later
    httpx.get(url)
    with served.customer.client(served.customer_account.auditor) as customer:
        items = ok(customer.get("/api/v1/audit", params={"action": "federation.refused"}))
    assert items["items"][0]["after"] == {"reason": "signature_missing", "unrecorded_before": 4}


def test_a_call_that_fails_after_authenticating_cannot_be_replayed(served):
    """An illegal transition is refused and written nowhere, but its nonce stays seen:
    replayed later, once the request could make that move, it is refused as a replay."""
    nonce = secrets.token_urlsafe(16)
    move = {"status": "closed", "reason": "skip resolving", "actor_name": "Mallory"}
    path = f"/requests/{served.request['id']}/status"
    first = _call(served, path, body=move, nonce=nonce)
    assert first.status_code == 409, first.text
    again = _call(served, path, body=move, nonce=nonce)
    assert (again.status_code, again.json()["reason"]) == (401, "nonce_replayed")


def test_a_refused_call_cannot_be_replayed_either(served):
    nonce = secrets.token_urlsafe(16)
    path = "/requests/not-on-the-offering"
    assert _call(served, path, nonce=nonce).json()["reason"] == "request_outside_offering"
    assert _call(served, path, nonce=nonce).json()["reason"] == "nonce_replayed"
