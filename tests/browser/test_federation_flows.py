"""Issue 5's journey across the demo federation, in real Chromium on loopback nodes.

An end user of a self-hosted customer raises a request on their own node; a specialist
on the MSP node sees it arrive in the inbox without reloading (server-sent events), opens
it (read live over the trust) and answers; the end user sees the answer on their node;
the customer's admin deactivates the trust and the request leaves the MSP's inbox, again
without a reload. Screenshots of the new pages go to var/screenshots/.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import shot

CUSTOMER = "fabrikam"
MSP = "northwind-msp"
MSP_NAME = "Northwind Managed Services"  # as the trust's agreement names it
SUBJECT = "Label printer in bay 4 prints blank labels"


def _no_reload_marker(page) -> None:
    page.evaluate("window.__stillTheSamePage = true")


def _not_reloaded(page) -> bool:
    return bool(page.evaluate("window.__stillTheSamePage === true"))


def test_a_request_reaches_the_msp_live_is_answered_and_leaves_when_the_trust_ends(
    demo, demo_login
):
    specialist = demo_login(MSP, "specialist")
    specialist.click("nav >> text=Inbox")
    inbox = specialist.locator("table.inbox")
    expect(inbox).to_contain_text("New starter laptop for Monday")  # fabrikam's, seeded
    expect(specialist.locator(".live-note")).to_be_visible()  # the stream is open
    _no_reload_marker(specialist)
    shot(specialist, "inbox-federated")

    with demo.api(CUSTOMER, "end_user") as api:
        offerings = {o["name"]: o["id"] for o in api.get("/api/v1/offerings").json()["items"]}
    requester = demo_login(CUSTOMER, "end_user")
    requester.goto(f"{demo.url(CUSTOMER)}/requests/new")
    requester.select_option("#what", f"offering:{offerings['Workplace support']}")
    requester.fill("#subject", SUBJECT)
    requester.fill("#description", "Since the update this morning every label comes out blank.")
    requester.select_option("#priority", "p2")
    requester.click("button:has-text('Raise the request')")
    expect(requester.locator("h1")).to_have_text(SUBJECT)
    request_url = requester.url

    # The MSP's specialist never reloads: the row arrives through the event stream.
    expect(inbox).to_contain_text(SUBJECT, timeout=15_000)
    assert _not_reloaded(specialist)
    row = specialist.locator("table.inbox tr", has_text=SUBJECT)
    expect(row).to_contain_text("Fabrikam Logistics")  # by the name its agreement gives
    shot(specialist, "inbox-live-arrival")

    row.locator("a").click()
    expect(specialist).to_have_url(re.compile(r"/trusts/[^/]+/requests/\w+$"))
    expect(specialist.locator("h1")).to_have_text(SUBJECT)
    expect(specialist.locator(".banner")).to_contain_text("lives on the node of account")
    specialist.fill("#body", "Thanks, we are rolling the printer driver back; try again at 14:00.")
    specialist.click("button:has-text('Add note')")
    expect(specialist.locator(".flash")).to_contain_text("Public note added")
    expect(specialist.locator(".timeline")).to_contain_text("rolling the printer driver back")
    specialist.select_option("#status", "in_progress")
    specialist.click("button:has-text('Change status')")
    expect(specialist.locator(".request-head")).to_contain_text("In progress")
    shot(specialist, "shared-request-specialist")

    requester.goto(request_url)
    expect(requester.locator(".timeline")).to_contain_text("rolling the printer driver back")
    expect(requester.locator(".request-head")).to_contain_text("In progress")
    expect(requester.locator(".side-col")).to_contain_text(f"{MSP} (your provider, over a trust)")
    shot(requester, "request-answered-over-trust")

    specialist.click("nav >> text=Inbox")
    expect(inbox).to_contain_text(SUBJECT)
    _no_reload_marker(specialist)

    admin = demo_login(CUSTOMER, "admin")
    admin.click("nav >> text=Trusts")
    expect(admin.locator("table.trusts")).to_contain_text(MSP)
    shot(admin, "trusts-customer")
    admin.click("table.trusts >> text=Deactivate")
    expect(admin.locator("h1")).to_contain_text(f"Deactivate the trust with {MSP_NAME}?")
    expect(admin.locator("main")).to_contain_text("loses access to your requests")
    shot(admin, "trust-deactivate-confirm")
    admin.click("button:has-text('Deactivate the trust for good')")
    expect(admin.locator(".flash")).to_contain_text("is deactivated, for good")
    shot(admin, "trusts-after-deactivation")

    # The MSP's node hears of the end and the open inbox drops the customer's requests.
    expect(inbox).not_to_contain_text(SUBJECT, timeout=15_000)
    expect(specialist.locator("#inbox-live")).not_to_contain_text("New starter laptop")
    assert _not_reloaded(specialist)
    expect(inbox).to_contain_text("Printer in surgery 2 jams")  # contoso's trust lives on
    shot(specialist, "inbox-after-deactivation")


def test_an_msp_admin_creates_an_invitation_to_hand_over(demo, demo_login):
    admin = demo_login(MSP, "admin")
    admin.click("nav >> text=Trusts")
    expect(admin.locator("table.trusts")).to_contain_text("tailspin")
    shot(admin, "trusts-msp")
    admin.click("button:has-text('Create an invitation')")
    expect(admin.locator("h1")).to_have_text("Invitation created")
    expect(admin.locator("#inv-node_url")).to_have_text(demo.url(MSP))
    expect(admin.locator("#inv-account")).to_have_text(MSP)
    shot(admin, "trust-invitation")
    admin.click("nav >> text=Offerings")
    expect(admin.locator("#trust")).to_contain_text("tailspin, over trust")
    shot(admin, "admin-offerings-over-trust")


def test_the_federated_inbox_on_a_phone(demo, demo_login):
    specialist = demo_login(MSP, "specialist", width=390, height=844)
    specialist.goto(f"{demo.url(MSP)}/inbox")
    expect(specialist.locator("table.inbox")).to_contain_text("Shared drive asks")
    shot(specialist, "phone-inbox-federated")
