"""How a person is named in the audit log and the timeline: ``Name <email>``, in the
254 characters an event holds for it."""

from __future__ import annotations

from account_node.audit.service import ACTOR_NAME_MAX, Actor
from account_node.identity.principal import Principal


def _principal(name: str, email: str) -> Principal:
    return Principal("p1", "acct", name, email, frozenset({"admin"}))


def test_a_person_is_named_with_their_email():
    assert _principal("Ada Admin", "ada@example.test").actor.name == "Ada Admin <ada@example.test>"


def test_a_name_too_long_beside_the_email_is_shortened_and_the_email_kept():
    """A name (200) and an e-mail (254) can hold more than an event's actor name: such
    a person's every change failed on PostgreSQL."""
    email = "a.rather.long.but.valid.mailbox.name@acct-1234.subdomain.example.test"
    name = _principal("M" * 200, email).actor.name
    assert len(name) == ACTOR_NAME_MAX
    assert name.endswith(f"… <{email}>") and name.startswith("MMM")


def test_any_actor_name_fits_what_an_event_stores():
    """A person vouched for over a trust is named by their node."""
    assert len(Actor("p", "a", "x" * 1000, vouched_by="msp").name) == ACTOR_NAME_MAX
