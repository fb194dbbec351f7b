"""Which SLA applies to a request, and why (DESIGN section 4's hierarchy).

Most specific first; the first level that names an SLA wins:

1. ``request``   an override set on the request by a specialist or admin, with a reason;
2. ``requester`` a user-level override for the requester (e.g. executives, premium);
3. ``ci``        the configuration item's SLA, inherited from the nearest ancestor;
4. ``offering``  the customer's default SLA on the offering;
5. ``service``   the service's default SLA.

The choice is deterministic and explained: the request records the level as
``sla_source`` and a sentence a person can check as ``sla_reason``. The SLA that wins is
loaded together with its calendar (``SlaTerms``), since the request freezes both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from account_node.context import Work
from services.catalog.models import Service
from services.cmdb.models import ConfigurationItem
from services.cmdb.service import Cmdb
from services.offerings.models import Offering
from services.sla.models import BusinessCalendar, RequesterSla, Sla
from services.sla.service import RequesterSlas


class SlaTerms(Protocol):
    """Where the hierarchy loads SLAs from (the request store)."""

    def sla_terms(self, sla_id: str) -> tuple[Sla, BusinessCalendar]:
        """An SLA and its calendar by the SLA's id; raises SlaNotFound for an unknown id."""

    def requester_terms(
        self, person_id: str, fallback_sla_id: str
    ) -> tuple[RequesterSla | None, Sla, BusinessCalendar]:
        """The first override group naming the person, and the SLA that wins between
        its SLA and ``fallback_sla_id``, with its calendar."""


SOURCES = ("request", "requester", "ci", "offering", "service")


@dataclass(frozen=True)
class SlaDecision:
    sla: Sla
    calendar: BusinessCalendar
    source: str
    reason: str


@dataclass(frozen=True)
class SlaInputs:
    service: Service
    requester_id: str
    offering: Offering | None = None
    ci: ConfigurationItem | None = None
    override_sla_id: str | None = None
    override_reason: str | None = None
    # Levels 2, 4 and 5 as ``SlaTerms.requester_terms`` answers them, when they were
    # read together with the offering (one query fewer); used only without a CI.
    requester_terms: tuple[RequesterSla | None, Sla, BusinessCalendar] | None = None


def decide_sla(work: Work, inputs: SlaInputs, terms: SlaTerms) -> SlaDecision:
    if inputs.override_sla_id:
        sla, calendar = terms.sla_terms(inputs.override_sla_id)
        return SlaDecision(
            sla, calendar, "request", f"request override: {sla.name} ({inputs.override_reason})"
        )
    default_id, default_source, default_reason = _default_level(inputs)
    if inputs.ci is None:
        # Nothing between the requester and the defaults: levels 2, 4 and 5 in one query.
        group, sla, calendar = inputs.requester_terms or terms.requester_terms(
            inputs.requester_id, default_id
        )
        if group is not None:
            return _requester_decision(group, sla, calendar)
        return SlaDecision(sla, calendar, default_source, f"{default_reason}: {sla.name}")
    group = RequesterSlas(work).for_person(inputs.requester_id)
    if group is not None:
        return _requester_decision(group, *terms.sla_terms(group.sla_id))
    sla_id, origin = Cmdb(work).effective_sla(inputs.ci)
    if sla_id is not None and origin is not None:
        sla, calendar = terms.sla_terms(sla_id)
        where = inputs.ci.name
        if origin.id != inputs.ci.id:
            where += f" (inherited from {origin.name})"
        return SlaDecision(sla, calendar, "ci", f"configuration item: {where}, {sla.name}")
    sla, calendar = terms.sla_terms(default_id)
    return SlaDecision(sla, calendar, default_source, f"{default_reason}: {sla.name}")


def _default_level(inputs: SlaInputs) -> tuple[str, str, str]:
    """Levels 4 and 5: the SLA id, its source and the start of its reason."""
    offering = inputs.offering
    if offering is not None and offering.customer_sla_id:
        return (
            offering.customer_sla_id,
            "offering",
            f"customer default on offering {offering.name}",
        )
    return inputs.service.default_sla_id, "service", f"service default of {inputs.service.name}"


def _requester_decision(group: RequesterSla, sla: Sla, calendar: BusinessCalendar) -> SlaDecision:
    return SlaDecision(sla, calendar, "requester", f"user override: {group.label}, {sla.name}")
