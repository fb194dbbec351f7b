"""A page's database work does not grow with what it shows (issue 5: every page well
under 200 ms, with 5,000 requests too): no query per row of the inbox, none per entry of
a request's timeline. Counted as statements sent to the database, on both engines."""

from __future__ import annotations

import re

from tests.statements import statements


def _rows(html: str) -> int:
    return len(re.findall(r'<tr class="row-', html))


def test_the_inbox_sends_as_many_statements_for_thirty_rows_as_for_three(app, as_role, desk):
    specialist = as_role("specialist")
    for n in range(3):
        desk.raise_request(subject=f"Request {n}", priority=("p1", "p2", "p3", "p4")[n % 4])
    specialist.text("/inbox")
    with statements(app) as few:
        assert _rows(specialist.text("/inbox")) == 3
    for n in range(3, 30):
        desk.raise_request(subject=f"Request {n}", priority=("p1", "p2", "p3", "p4")[n % 4])
    with statements(app) as many:
        assert _rows(specialist.text("/inbox")) == 30
    assert few and len(many) == len(few)


def test_a_request_page_sends_as_many_statements_for_twenty_notes_as_for_two(app, as_role, desk):
    raised = desk.raise_request(subject="Printer on fire")
    path = f"/requests/{raised['id']}"

    def notes(count: int) -> None:
        for n in range(count):
            note = {"body": f"Note {n}", "public": n % 2 == 0}
            desk.post(f"/api/v1/requests/{raised['id']}/notes", note, "specialist")

    specialist = as_role("specialist")
    notes(2)
    specialist.text(path)
    with statements(app) as few:
        assert specialist.text(path).count("Note ") == 2
    notes(18)
    with statements(app) as many:
        assert specialist.text(path).count("Note ") == 20
    assert few and len(many) == len(few)
