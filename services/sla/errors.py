"""Typed errors of the SLA slice."""

from __future__ import annotations

from account_node.errors import Conflict, NotFound


class CalendarNotFound(NotFound):
    code = "calendar_not_found"


class SlaNotFound(NotFound):
    code = "sla_not_found"


class RequesterSlaNotFound(NotFound):
    code = "requester_sla_not_found"


class CalendarInUse(Conflict):
    code = "calendar_in_use"


class HeldForTrust(Conflict):
    """Terms a provider offered over a trust: only its next signed offering changes them."""

    code = "held_for_trust"
    title = "Held for a trust; changed only by the provider's signed offering"
