"""The portal in real Chromium: raising, answering, the inbox, admin forms, on two screens."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import shot


def test_an_end_user_raises_a_request_and_fixes_a_mistake_on_the_way(login, node):
    page = login("end_user")
    shot(page, "home-end-user")
    page.click("nav >> text=Catalog")
    shot(page, "catalog")
    page.click("text=Raise a request: Workplace for HQ")
    page.fill("#description", "Since this morning the screen stays black.")
    page.select_option("#priority", "p2")
    page.click("button:has-text('Raise the request')")
    # the subject was missing: the error is next to it and what was typed is still there
    expect(page.locator("#subject-error")).to_contain_text("required")
    expect(page.locator("#description")).to_have_value("Since this morning the screen stays black.")
    expect(page.locator("#priority")).to_have_value("p2")
    shot(page, "raise-request-with-error")
    page.fill("#subject", "Laptop screen stays black")
    page.select_option("#ci", label="LT-0042 (laptop)")
    page.click("button:has-text('Raise the request')")
    expect(page.locator("h1")).to_have_text("Laptop screen stays black")
    expect(page.locator(".flash")).to_contain_text("raised")
    expect(page.locator(".side-col")).to_contain_text("Europe/Amsterdam")
    shot(page, "request-end-user")
    page.click("nav >> text=My requests")
    expect(page.locator("table.list")).to_contain_text("Laptop screen stays black")
    expect(page.locator("main")).to_contain_text("CET")
    shot(page, "my-requests")


def test_a_specialist_works_the_inbox_and_the_requester_sees_what_waits_for_them(login, node):
    specialist = login("specialist")
    specialist.click("nav >> text=Inbox")
    expect(specialist.locator("table.inbox")).to_contain_text("VPN drops every hour")
    shot(specialist, "inbox")
    specialist.click("text=VPN drops every hour")
    specialist.click("button:has-text('Assign to me')")
    expect(specialist.locator("[aria-labelledby=details-h]")).to_contain_text("Specialist")
    specialist.fill("#body", "Which VPN client version do you run?")
    specialist.click("button:has-text('Add note')")
    specialist.select_option("#status", "waiting_for_customer")
    specialist.fill("#reason", "asked for the client version")
    specialist.click("button:has-text('Change status')")
    expect(specialist.locator(".request-head")).to_contain_text("Waiting for customer")
    specialist.fill("#body", "Probably the old client; check the rollout list.")
    specialist.check("input[value=internal]")
    specialist.click("button:has-text('Add note')")
    expect(specialist.locator(".timeline li.internal")).to_contain_text("rollout list")
    shot(specialist, "request-specialist")

    requester = login("end_user")
    expect(requester.locator(".attention")).to_contain_text("VPN drops every hour")
    requester.click(".attention >> text=VPN drops every hour")
    expect(requester.locator(".attention")).to_contain_text("Waiting for you")
    expect(requester.locator(".timeline")).to_contain_text("Which VPN client version")
    expect(requester.locator(".timeline")).not_to_contain_text("rollout list")
    shot(requester, "request-waiting-for-you")
    requester.fill("#body", "Version 5.2, installed last week.")
    requester.click("button:has-text('Send reply')")
    expect(requester.locator(".request-head")).to_contain_text("In progress")
    expect(requester.locator(".attention")).to_have_count(0)


def test_a_long_inbox_shows_the_most_urgent_says_how_many_more_and_shows_more(
    login, node, monkeypatch
):
    from portal.views import inbox

    monkeypatch.setattr(inbox, "SHOWN", 1)  # the node serves from this process
    monkeypatch.setattr(inbox, "MOST_SHOWN", 2)
    with node.api("end_user") as api:  # three open at least, so two are not all
        body = {"subject": "Label printer offline", "offering_id": node.offering, "priority": "p4"}
        api.post("/api/v1/requests", json=body).raise_for_status()
    specialist = login("specialist")
    specialist.click("nav >> text=Inbox")
    rows = specialist.locator("table.inbox tbody tr")
    expect(rows).to_have_count(1)
    expect(specialist.locator("main")).to_contain_text(
        re.compile(r"The 1 most urgent of \d+\+ open requests")
    )
    specialist.click("text=Show more")
    expect(rows).to_have_count(2)
    expect(specialist.locator("main")).to_contain_text("narrow it down with the filters")
    shot(specialist, "inbox-long")


def test_the_calendar_preview_answers_while_the_admin_types(login, node):
    page = login("admin")
    page.goto(f"{node.url}/admin/calendars")
    out = page.locator("#preview-out")
    expect(out).to_contain_text("Due", timeout=10_000)
    page.fill("#preview_start", "2026-12-04T16:00")
    page.fill("#preview_hours", "2")
    # Friday 16:00 + 2 business hours of 09:00-17:00 on weekdays: Monday 10:00
    expect(out).to_contain_text("Mon 7 Dec 2026, 10:00")
    page.fill("#timezone", "Mars/Olympus")
    expect(out).to_contain_text("Unknown time zone")
    shot(page, "calendars-preview")


def test_admin_pages_render_and_an_offering_expires_after_a_confirmation(login, node):
    page = login("admin")
    for path in ("services", "slas", "cis", "teams", "people"):
        page.goto(f"{node.url}/admin/{path}")
        expect(page.locator("h1")).to_be_visible()
        shot(page, f"admin-{path}")
    page.goto(f"{node.url}/admin/offerings")
    page.fill("#name", "Short-lived")
    page.select_option("#service", label="Workplace support")
    page.select_option("#team", label="Service Desk")
    page.click("button:has-text('Offer')")
    expect(page.locator(".flash")).to_contain_text("Short-lived")
    messages = []
    page.on("dialog", lambda d: (messages.append(d.message), d.accept()))
    page.click("button:has-text('Expire Short-lived')")
    expect(page.locator(".flash")).to_contain_text("expired")
    assert "New requests stop at once" in messages[0]
    shot(page, "admin-offerings")
    page.goto(f"{node.url}/audit")
    expect(page.locator(".banner.ok")).to_contain_text("Chain verified")
    shot(page, "audit")


def test_an_expired_session_signs_in_again_and_returns_to_the_page(login, node, chromium):
    page = login("specialist")
    page.click("nav >> text=Inbox")
    page.click("text=New starter laptop")
    # Wait for the page and its refreshed session cookie, or the clearing below races it.
    page.wait_for_url(re.compile(r"/requests/\w+$"))
    expect(page.locator("h1")).to_have_text("New starter laptop")
    wanted = page.url
    page.context.clear_cookies()
    page.reload()
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator(".flash")).to_contain_text("sign in to continue")
    page.fill("#account", node.account.id)
    page.fill("#email", node.account.specialist.email)
    page.fill("#password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_url(wanted)
    expect(page.locator("h1")).to_have_text("New starter laptop")


def test_keyboard_users_start_at_the_skip_link(login, node):
    page = login("end_user")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to content"
    shot(page, "skip-link-focused", full=False)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_on_a_phone_the_pages_fit_the_screen(login, node):
    for role, path, name in (
        ("specialist", "/inbox", "phone-inbox"),
        ("end_user", "/requests", "phone-my-requests"),
        ("end_user", "/requests/new", "phone-raise-request"),
    ):
        page = login(role, width=390, height=844)
        page.goto(node.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
        shot(page, name)
    page = login("specialist", width=390, height=844)
    page.goto(node.url + "/inbox")
    page.click("table.inbox a >> nth=0")
    assert re.search(r"/requests/\w+$", page.url)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(page, "phone-request")


def test_on_a_phone_the_request_page_offers_a_jump_to_its_actions(login, node):
    page = login("specialist", width=390, height=844)
    page.goto(node.url + "/inbox")
    page.click("table.inbox a >> nth=0")
    jump = page.locator("a.jump")
    expect(jump).to_be_visible()
    jump.click()
    expect(page.locator("#details-h")).to_be_in_viewport()
    laptop = login("specialist")
    laptop.goto(page.url)
    expect(laptop.locator("a.jump")).to_be_hidden()


def test_an_inbox_refused_a_live_stream_refreshes_itself_instead(login, node, monkeypatch):
    """A node serving as many live streams as it can answers one more with a 503; the
    browser gives up on it for good, so the page refreshes itself every half minute and
    does not claim to update live."""
    from services.inbox.slots import StreamSlots

    monkeypatch.setitem(node.app.extensions, "trustdesk.stream_slots", StreamSlots(0))
    specialist = login("specialist")
    specialist.click("nav >> text=Inbox")
    expect(specialist.locator("#inbox-live")).to_have_attribute("data-polling", "30")
    expect(specialist.locator(".live-note")).to_be_hidden()
    expect(specialist.locator("table.inbox")).to_contain_text("VPN drops every hour")
