"""A summary row is built by position: its fields must follow the query's columns."""

from __future__ import annotations

from dataclasses import fields

from services.visibility.store import SUMMARY_COLUMNS, SummaryRow


def test_the_fields_of_a_summary_row_follow_the_columns_of_the_query():
    names = [c.key for c in SUMMARY_COLUMNS] + ["requester_name", "has_pauses"]
    assert [f.name for f in fields(SummaryRow)] == names


def test_a_row_becomes_a_summary_with_its_sla_json_parsed():
    row = [f"value of {c.key}" for c in SUMMARY_COLUMNS] + ["Ann", False]
    names = [c.key for c in SUMMARY_COLUMNS]
    row[names.index("sla_terms")] = '{"p1": {"response": 60}}'
    row[names.index("sla_calendar")] = '{"timezone": "UTC"}'
    summary = SummaryRow.of(row)
    assert summary.sla_terms == {"p1": {"response": 60}}
    assert summary.sla_calendar == {"timezone": "UTC"}
    assert (summary.subject, summary.requester_name, summary.has_pauses) == (
        "value of subject",
        "Ann",
        False,
    )
