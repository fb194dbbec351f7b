"""The portal across nodes: trust pages, the cross-account inbox, a customer's request.

Two real nodes on loopback, each with its own database (SQLite and PostgreSQL), as in
tests/federation/; people use each node's portal through its own session.
"""

from __future__ import annotations

import re

from tests.federation.conftest import federation, served  # noqa: F401 - fixtures
from tests.federation.flows import build_msp_desk, lying, ok
from tests.integration.portal.conftest import errors_next_to, sign_in

ROW = re.compile(r'<a href="(/trusts/[^/"]+/requests/\w+)">REQ-\d+ · ([^<]+)</a>')


def _invitation(html: str) -> dict[str, str]:
    return {
        f: re.search(rf'<code id="inv-{f}">([^<]+)</code>', html).group(1)
        for f in ("node_url", "account", "fingerprint", "code")
    }


def test_admins_make_a_trust_through_the_portal_with_a_fingerprint_check(federation):  # noqa: F811
    f = federation
    msp_admin = sign_in(f.msp.app, f.msp_account, "admin")
    customer_admin = sign_in(f.customer.app, f.customer_account, "admin")
    invited = msp_admin.post("/admin/trusts/invitations", {}, page="/admin/trusts")
    invitation = _invitation(invited.get_data(as_text=True))
    assert invitation["node_url"] == f.msp.url

    wrong = {**invitation, "fingerprint": "SHA256:" + "A" * 43}
    refused = customer_admin.post("/admin/trusts", wrong, page="/admin/trusts")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "fingerprint" in errors_next_to(html, "fingerprint")
    assert f'value="{invitation["code"]}"' in html  # kept for a second try
    assert "No trusts yet" in html

    proposed = customer_admin.post("/admin/trusts", invitation, page="/admin/trusts")
    assert proposed.status_code == 303
    listed = customer_admin.text("/admin/trusts")
    assert "Waiting for them" in listed and f.msp_account.id in listed
    [trust_id] = re.findall(r'data-trust="([^"]+)"', listed)

    waiting = msp_admin.text("/admin/trusts")
    assert "Waiting for you" in waiting and f"/admin/trusts/{trust_id}/accept" in waiting
    accepted = msp_admin.post(f"/admin/trusts/{trust_id}/accept", {}, page="/admin/trusts")
    assert accepted.status_code == 303
    assert "is active" in msp_admin.text("/admin/trusts")
    assert "Active</span>" in customer_admin.text("/admin/trusts")

    again = customer_admin.post("/admin/trusts", invitation, page="/admin/trusts")
    assert again.status_code == 422  # a one-time code
    assert "code may be wrong, used or expired" in errors_next_to(again.get_data(True), "code")


def test_an_admin_offers_a_service_over_the_trust_from_the_offerings_page(federation):  # noqa: F811
    from tests.federation.flows import establish_trust

    f = federation
    trust = establish_trust(f.msp, f.msp_account, f.customer, f.customer_account)
    desk = build_msp_desk(f.msp, f.msp_account)
    admin = sign_in(f.msp.app, f.msp_account, "admin")
    page = admin.text("/admin/offerings")
    assert f'<option value="{trust}">{f.customer_account.id}, over trust {trust}</option>' in page
    form = {"trust": trust, "service": desk.service, "name": "Workplace for them",
            "team": desk.team, "sla": desk.gold}  # fmt: skip
    response = admin.post("/admin/offerings", form, page="/admin/offerings")
    assert response.status_code == 303
    assert f"offered to {f.customer_account.id}" in admin.text("/admin/offerings")
    with f.customer.client(f.customer_account.end_user) as customer:
        held = ok(customer.get("/api/v1/offerings"))["items"]
    assert [o["name"] for o in held] == ["Workplace for them"]


def test_the_specialist_works_a_customers_request_from_the_inbox(served):  # noqa: F811
    s = served
    specialist = sign_in(s.msp.app, s.msp_account, "specialist")
    inbox = specialist.text("/inbox")
    [(link, subject)] = ROW.findall(inbox)
    assert subject == "Printer jams"
    assert link == f"/trusts/{s.trust}/requests/{s.request['id']}"
    # Shown by the name the trust's agreement gives the customer, its id on hover.
    customer = s.customer_account.id
    assert f'<span class="account-name" title="{customer}">Account {customer}</span>' in inbox
    assert specialist.text(f"/inbox?account={s.customer_account.id}").count(link) == 1
    assert ROW.findall(specialist.text(f"/inbox?account={s.msp_account.id}")) == []

    page = specialist.text(link)
    assert "Printer jams" in page and "Raised the request." in page
    assert "Gold" in page and "lives on the node of account" in page

    empty = specialist.post(f"{link}/notes", {"body": "  "}, page=link)
    assert empty.status_code == 422
    assert errors_next_to(empty.get_data(as_text=True), "body") == "This field is required."

    public = specialist.post(f"{link}/notes", {"body": "Swapping the fuser today."}, page=link)
    assert public.status_code == 303
    internal = {"body": "Fuser part on order.", "visibility": "internal"}
    assert specialist.post(f"{link}/notes", internal, page=link).status_code == 303
    moved = specialist.post(f"{link}/status", {"status": "in_progress"}, page=link)
    assert moved.status_code == 303
    page = specialist.text(link)
    assert "Swapping the fuser today." in page and "Fuser part on order." in page
    assert "In progress" in page

    illegal = specialist.post(f"{link}/status", {"status": "new"}, page=link)
    assert illegal.status_code == 409
    assert "refused the change" in errors_next_to(illegal.get_data(as_text=True), "status")

    requester = sign_in(s.customer.app, s.customer_account, "end_user")
    theirs = requester.text(f"/requests/{s.request['id']}")
    assert "Swapping the fuser today." in theirs
    assert "Fuser part on order." not in theirs  # internal stays with staff


def test_the_msps_end_users_and_other_trusts_reach_nothing(served):  # noqa: F811
    s = served
    link = f"/trusts/{s.trust}/requests/{s.request['id']}"
    assert sign_in(s.msp.app, s.msp_account, "end_user").get(link).status_code == 403
    admin = sign_in(s.msp.app, s.msp_account, "admin")
    assert admin.get(f"/trusts/{s.trust}/requests/not-a-request").status_code == 404
    customer_admin = sign_in(s.customer.app, s.customer_account, "admin")
    assert customer_admin.get(link).status_code == 404  # their side of the trust: no reach


def test_a_dead_customer_node_is_named_and_never_speaks_for_itself(served):  # noqa: F811
    s = served
    specialist = sign_in(s.msp.app, s.msp_account, "specialist")
    link = f"/trusts/{s.trust}/requests/{s.request['id']}"
    s.customer.server.shutdown()
    s.customer.server.server_close()
    inbox = specialist.text("/inbox")
    assert re.search(
        r'class="banner warn" role="alert">The node of account '
        rf"<strong>Account {s.customer_account.id}"
        r"</strong> did not answer",
        inbox,
    )
    assert ROW.findall(inbox) == []
    page = specialist.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 502
    assert "could not be reached to show this request" in html
    assert "ConnectError" not in html and "127.0.0.1" not in html
    note = specialist.post(f"{link}/notes", {"body": "Still there?"}, page="/inbox")
    assert note.status_code == 502
    assert "Nothing was changed" in note.get_data(as_text=True)


def test_a_note_whose_answer_was_lost_is_said_to_be_maybe_saved(served):  # noqa: F811
    """The customer's node wrote the note and answered garbage: "nothing was changed"
    would have the specialist post it twice, under their name, to the customer."""
    s = served
    specialist = sign_in(s.msp.app, s.msp_account, "specialist")
    link = f"/trusts/{s.trust}/requests/{s.request['id']}"
    with lying(s.customer, "/federation/", _garbled_on_post):
        note = specialist.post(f"{link}/notes", {"body": "On my way."}, page=link)
    html = note.get_data(as_text=True)
    assert note.status_code == 502
    assert "it may have done it" in html and "Nothing was changed" not in html
    assert "On my way." in specialist.text(link)  # it had: the reload shows it


def test_a_timeline_a_peer_filled_with_numbers_is_refused_not_a_crash(served):  # noqa: F811
    s = served
    specialist = sign_in(s.msp.app, s.msp_account, "specialist")
    link = f"/trusts/{s.trust}/requests/{s.request['id']}"

    def numbers(answer: dict) -> dict:
        for event in answer.get("timeline", []):
            event["data"] = {"from": 1, "to": 2, "clock": 3}
        return answer

    with lying(s.customer, "/federation/", numbers):
        page = specialist.get(link)
    assert page.status_code == 502
    assert "could not be reached to show this request" in page.get_data(as_text=True)


def _garbled_on_post(answer: dict) -> object:
    return ["not", "an", "event"] if "seq" in answer else answer


def test_deactivating_from_the_portal_takes_the_request_out_of_the_inbox(served):  # noqa: F811
    s = served
    specialist = sign_in(s.msp.app, s.msp_account, "specialist")
    link = f"/trusts/{s.trust}/requests/{s.request['id']}"
    assert ROW.findall(specialist.text("/inbox"))
    end_user = sign_in(s.customer.app, s.customer_account, "end_user")
    assert "Workplace support" in end_user.text("/catalog")
    customer_admin = sign_in(s.customer.app, s.customer_account, "admin")
    confirm = customer_admin.text(f"/admin/trusts/{s.trust}/deactivate")
    assert "Workplace support" in confirm  # the offering that stops taking requests
    page = f"/admin/trusts/{s.trust}/deactivate"
    assert customer_admin.post(page, {}, page=page).status_code == 303
    assert ROW.findall(specialist.text("/inbox")) == []
    assert specialist.get(link).status_code == 404
    assert "Deactivated</span>" in sign_in(s.msp.app, s.msp_account, "admin").text("/admin/trusts")
    # The service held for the trust is raised through its offering only: gone with it.
    assert "Workplace support" not in end_user.text("/catalog")


def test_after_a_compromise_the_customers_admin_confirms_the_msps_key_from_the_portal(
    served,  # noqa: F811
):
    s = served
    msp_admin = sign_in(s.msp.app, s.msp_account, "admin")
    customer_admin = sign_in(s.customer.app, s.customer_account, "admin")
    specialist = sign_in(s.msp.app, s.msp_account, "specialist")
    peer = f'data-peer="{s.customer_account.id}" data-state='
    assert f'{peer}"holds"' in msp_admin.text("/admin/keys")

    form = {"compromised": "yes", "understood": "yes"}
    assert msp_admin.post("/admin/keys/rotate", form, page="/admin/keys").status_code == 303
    keys = msp_admin.text("/admin/keys")
    fingerprint = re.search(r'<code id="current-fingerprint">([^<]+)</code>', keys).group(1)
    assert f'{peer}"unconfirmed"' in keys
    assert f"Hand their admin this fingerprint: <code>{fingerprint}</code>" in keys
    assert ROW.findall(specialist.text("/inbox")) == []  # the customer refuses the new key

    wrong = customer_admin.post(
        "/admin/keys/peer-key",
        {"trust_id": s.trust, "fingerprint": "SHA256:" + "A" * 43},
        page="/admin/keys",
    )
    assert wrong.status_code == 422
    assert errors_next_to(wrong.get_data(as_text=True), "fingerprint")
    assert ROW.findall(specialist.text("/inbox")) == []

    confirmed = customer_admin.post(
        "/admin/keys/peer-key",
        {"trust_id": s.trust, "fingerprint": fingerprint},
        page="/admin/keys",
    )
    assert confirmed.status_code == 303
    assert f"The key {fingerprint} of {s.msp_account.id} is confirmed" in customer_admin.text(
        "/admin/keys"
    )
    [(_, subject)] = ROW.findall(specialist.text("/inbox"))
    assert subject == "Printer jams"  # the MSP reaches the customer's request again
