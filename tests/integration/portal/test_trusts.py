"""Trust administration on one node: roles, CSRF, bad input, and other accounts' trusts.

The pages that need a real peer (a proposal that reaches the inviting node, acceptance,
a customer's request read over the trust) are in ``test_federated_pages.py``.
"""

from __future__ import annotations

import re

import pytest

from account_node.db import db
from account_node.tenancy import AccountScope
from tests.integration.portal.conftest import errors_next_to
from trust.handshake import TrustStore
from trust.models import Trust

PROPOSAL = {
    "node_url": "http://127.0.0.1:9",
    "account": "northwind-msp",
    "fingerprint": "SHA256:not-the-real-one",
    "code": "a-code-of-some-length",
}


def _trust(app, account_id: str, role: str = "trusted", status: str = "active") -> str:
    """A trust row as the handshake leaves it, with a peer that never answers."""
    node = app.extensions["trustdesk"]
    with app.app_context():
        trust = Trust(
            id=f"trust-{account_id[-8:]}{role[:3]}",
            role=role,
            peer_account="contoso",
            peer_node="http://127.0.0.1:9",
            status=status,
            agreement={"document": {}},
            created_at=node.clock.now(),
            activated_at=node.clock.now() if status == "active" else None,
            deactivated_at=None,
            deactivated_by=None,
        )
        TrustStore(db.session, AccountScope(account_id)).add(trust)
        db.session.commit()
        return trust.id


def _status(app, account_id: str, trust_id: str) -> str:
    with app.app_context():
        found = TrustStore(db.session, AccountScope(account_id)).get(trust_id).status
        db.session.rollback()
        return found


@pytest.mark.parametrize("role", ["specialist", "end_user", "auditor"])
def test_trust_pages_are_for_admins_only(as_role, role):
    browser = as_role(role)
    assert browser.get("/admin/trusts").status_code == 403
    page = "/requests"
    assert browser.post("/admin/trusts/invitations", {}, page=page).status_code == 403
    assert browser.post("/admin/trusts", PROPOSAL, page=page).status_code == 403
    assert 'href="/admin/trusts"' not in browser.text("/")


def test_the_admin_finds_trusts_in_the_navigation_and_an_empty_list(as_role):
    html = as_role("admin").text("/admin/trusts")
    assert 'href="/admin/trusts" aria-current="page"' in html
    assert "No trusts yet" in html and "(soon)" not in html
    assert re.search(r"This account's key fingerprint: <code>[^<]{10,}</code>", html)


def test_an_invitation_shows_the_four_fields_to_hand_over_once(app, as_role, desk):
    admin = as_role("admin")
    response = admin.post("/admin/trusts/invitations", {}, page="/admin/trusts")
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    for field in ("node_url", "account", "fingerprint", "code"):
        assert re.search(rf'<code id="inv-{field}">[^<]+</code>', html), field
    assert f'<code id="inv-account">{desk.account.id}</code>' in html
    code = re.search(r'<code id="inv-code">([^<]+)</code>', html).group(1)
    again = admin.post("/admin/trusts/invitations", {}, page="/admin/trusts")
    assert code not in again.get_data(as_text=True)  # a new code each time
    assert code not in admin.text("/admin/trusts")  # and never shown again


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/trusts/invitations", {}),
        ("/admin/trusts", PROPOSAL),
        ("/admin/trusts/{trust}/accept", {}),
        ("/admin/trusts/{trust}/deactivate", {}),
    ],
)
def test_trust_forms_without_their_csrf_token_are_refused(app, as_role, desk, path, data):
    trust = _trust(app, desk.account.id, role="trusted", status="proposed")
    response = as_role("admin").post(path.format(trust=trust), data, csrf=False)
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert _status(app, desk.account.id, trust) == "proposed"


def test_a_proposal_with_empty_fields_shows_each_error_next_to_its_field(as_role):
    response = as_role("admin").post("/admin/trusts", {}, page="/admin/trusts")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("node_url", "account", "fingerprint", "code"):
        assert errors_next_to(html, field) == "This field is required.", field
    assert "Nothing was saved" in html


def test_a_proposal_to_an_address_the_node_may_not_call_keeps_what_was_typed(as_role):
    response = as_role("admin").post("/admin/trusts", PROPOSAL, page="/admin/trusts")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "may not call that address" in errors_next_to(html, "node_url")
    assert 'value="SHA256:not-the-real-one"' in html and 'value="a-code-of-some-length"' in html
    assert "No trusts yet" in html


def test_a_proposal_with_fields_of_the_wrong_length_is_refused_before_any_call(as_role):
    short = {**PROPOSAL, "fingerprint": "short", "code": "x"}
    html = as_role("admin").post("/admin/trusts", short, page="/admin/trusts").get_data(True)
    assert "Between 10 and 80 characters" in errors_next_to(html, "fingerprint")
    assert "Between 10 and 100 characters" in errors_next_to(html, "code")


def test_the_deactivation_page_says_what_will_stop_before_anything_stops(app, as_role, desk):
    trust = _trust(app, desk.account.id)
    admin = as_role("admin")
    html = admin.text(f"/admin/trusts/{trust}/deactivate")
    assert "Deactivate the trust with contoso?" in html
    assert "lose access to contoso" in html and "live streams" in html
    assert "No offering is open over this trust" in html
    assert "Deactivation is final" in html
    assert _status(app, desk.account.id, trust) == "active"
    listed = admin.text("/admin/trusts")
    assert f'href="/admin/trusts/{trust}/deactivate"' in listed


def test_the_customer_side_is_told_its_provider_loses_access(app, as_role, desk):
    trust = _trust(app, desk.account.id, role="trusting")
    html = as_role("admin").text(f"/admin/trusts/{trust}/deactivate")
    assert "(your provider) loses access to your requests" in html
    assert "stay on your node" in html


def test_deactivating_ends_the_trust_even_when_the_peer_cannot_be_told(app, as_role, desk):
    trust = _trust(app, desk.account.id)
    admin = as_role("admin")
    page = f"/admin/trusts/{trust}/deactivate"
    response = admin.post(page, {}, page=page)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/trusts"
    assert _status(app, desk.account.id, trust) == "deactivated"
    listed = admin.text("/admin/trusts")
    assert "is deactivated, for good" in listed and "Deactivated</span>" in listed
    assert admin.get(page).status_code == 303  # nothing left to confirm


def test_accepting_what_is_not_a_proposal_says_so_and_changes_nothing(app, as_role, desk):
    trust = _trust(app, desk.account.id, role="trusting", status="proposed")
    response = as_role("admin").post(f"/admin/trusts/{trust}/accept", {}, page="/admin/trusts")
    assert response.status_code == 409
    assert "cannot be accepted: trust " in response.get_data(as_text=True)
    assert "is not a proposal awaiting this account" in response.get_data(as_text=True)
    assert _status(app, desk.account.id, trust) == "proposed"


def test_a_trust_of_another_account_is_a_404_everywhere(app, as_role, desk):
    from tests.factories.accounts import make_account

    theirs = make_account(app, prefix="other")
    trust = _trust(app, theirs.id)
    admin = as_role("admin")
    assert admin.get(f"/admin/trusts/{trust}/deactivate").status_code == 404
    for action in ("accept", "deactivate"):
        response = admin.post(f"/admin/trusts/{trust}/{action}", {}, page="/admin/trusts")
        assert response.status_code == 404, action
    base = f"/trusts/{trust}/requests/some-request"
    assert admin.get(base).status_code == 404
    assert admin.post(f"{base}/notes", {"body": "hi"}).status_code == 404
    assert admin.post(f"{base}/status", {"status": "in_progress"}).status_code == 404
    assert _status(app, theirs.id, trust) == "active"
    assert trust not in admin.text("/admin/trusts")


def test_made_up_and_overlong_trust_ids_are_404_pages(as_role):
    admin = as_role("admin")
    assert admin.get("/admin/trusts/nope/deactivate").status_code == 404
    assert admin.get(f"/admin/trusts/{'x' * 300}/deactivate").status_code == 404
    assert admin.get("/trusts/nope/requests/nope").status_code == 404
    assert admin.get(f"/trusts/t/requests/{'x' * 300}").status_code == 404


def test_the_inbox_stream_is_for_signed_in_staff(app, as_role, client):
    assert client.get("/inbox/events").status_code == 302
    assert as_role("end_user").get("/inbox/events").status_code == 403
    response = as_role("specialist").get("/inbox/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert next(response.response).startswith(b"retry:")
    response.close()


def test_the_offerings_page_offers_no_trust_without_an_active_one(app, as_role, desk):
    _trust(app, desk.account.id, role="trusted", status="proposed")
    html = as_role("admin").text("/admin/offerings")
    assert '<select id="trust" name="trust"' in html
    assert "over trust" not in html.split('id="trust"')[1].split("</select>")[0]


def test_offering_over_a_trust_that_is_not_active_is_an_error_next_to_the_picker(
    app, as_role, desk
):
    trust = _trust(app, desk.account.id, role="trusted", status="deactivated")
    form = {"service": desk.service, "name": "Printing for them", "team": desk.team,
            "trust": trust}  # fmt: skip
    response = as_role("admin").post("/admin/offerings", form, page="/admin/offerings")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The trust is deactivated" in errors_next_to(html, "trust")
    assert 'value="Printing for them"' in html
