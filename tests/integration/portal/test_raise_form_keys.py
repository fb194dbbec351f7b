"""The raise-a-request form carries a key of its own, so that sending it twice raises one
request; sent again after being changed (back, edit, send), it says so instead."""

from __future__ import annotations

import re

from tests.integration.portal.conftest import errors_next_to

KEY = re.compile(r'name="key" value="([^"]*)"')


def _raise(browser, desk, **fields):
    form = {
        "what": f"offering:{desk.offering}",
        "subject": "Printer jams",
        "priority": "p3",
        "description": "",
        "ci": "",
    }
    form.update(fields)
    return browser.post("/requests/new", form, page="/requests/new")


def _count(desk) -> int:
    return len(desk.get("/api/v1/requests", limit=200).get_json()["items"])


def test_a_form_sent_twice_shows_the_request_it_raised_the_first_time(as_role, desk):
    end_user = as_role("end_user")
    key = KEY.search(end_user.text("/requests/new")).group(1)
    first, again = _raise(end_user, desk, key=key), _raise(end_user, desk, key=key)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    page = end_user.text(again.headers["Location"])
    assert "was already raised from this form" in page
    assert _count(desk) == 1


def test_a_form_sent_again_with_other_details_says_so_and_raises_nothing(as_role, desk):
    end_user = as_role("end_user")
    key = KEY.search(end_user.text("/requests/new")).group(1)
    first = _raise(end_user, desk, key=key)
    number = re.search(r"REQ-\d+", end_user.text(first.headers["Location"])).group(0)

    changed = _raise(end_user, desk, key=key, subject="Printer jams and smokes")
    html = changed.get_data(as_text=True)
    assert changed.status_code == 422
    assert f"This form was already sent, and raised {number}." in html
    assert "Send it again to raise this as a new request." in html
    assert "Printer jams and smokes" in html  # what was typed is kept
    assert _count(desk) == 1

    new_key = KEY.search(html).group(1)
    assert new_key and new_key != key
    again = _raise(end_user, desk, key=new_key, subject="Printer jams and smokes")
    assert again.status_code == 303 and again.headers["Location"] != first.headers["Location"]
    assert _count(desk) == 2


def test_a_form_with_a_mangled_key_asks_for_a_reload_and_raises_nothing(as_role, desk):
    response = _raise(as_role("end_user"), desk, key="k" * 101)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This form is out of date: reload the page and fill it in again." in html
    assert errors_next_to(html, "subject") == ""
    assert _count(desk) == 0
