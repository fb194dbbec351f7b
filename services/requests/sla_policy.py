"""Which SLA applies to a request, and why (DESIGN section 4's hierarchy).

Most specific first; the first level that names an SLA wins:

1. ``request``   an override set on the request by a specialist or admin, with a reason;
2. ``requester`` a user-level override for the requester (e.g. executives, premium);
3. ``ci``        the configuration item's SLA, inherited from the nearest ancestor;
4. ``offering``  the customer's default SLA on the offering;
5. ``service``   the service's default SLA.

The choice is deterministic and explained: the request records the level as
``sla_source`` and a sentence a person can check as ``sla_reason``. The SLA that wins is
loaded together with its calendar (``load``), since the request freezes both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from account_node.context import Work
from services.catalog.models import Service
from services.cmdb.models import ConfigurationItem
from services.cmdb.service import Cmdb
from services.offerings.models import Offering
from services.sla.models import BusinessCalendar, Sla
from services.sla.service import RequesterSlas

# An SLA and its calendar by the SLA's id; raises SlaNotFound for an unknown id.
SlaLoader = Callable[[str], tuple[Sla, BusinessCalendar]]

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


def decide_sla(work: Work, inputs: SlaInputs, load: SlaLoader) -> SlaDecision:
    if inputs.override_sla_id:
        sla, calendar = load(inputs.override_sla_id)
        return SlaDecision(
            sla, calendar, "request", f"request override: {sla.name} ({inputs.override_reason})"
        )
    group = RequesterSlas(work).for_person(inputs.requester_id)
    if group is not None:
        sla, calendar = load(group.sla_id)
        return SlaDecision(sla, calendar, "requester", f"user override: {group.label}, {sla.name}")
    if inputs.ci is not None:
        sla_id, origin = Cmdb(work).effective_sla(inputs.ci)
        if sla_id is not None and origin is not None:
            sla, calendar = load(sla_id)
            where = inputs.ci.name
            if origin.id != inputs.ci.id:
                where += f" (inherited from {origin.name})"
            return SlaDecision(sla, calendar, "ci", f"configuration item: {where}, {sla.name}")
    if inputs.offering is not None and inputs.offering.customer_sla_id:
        sla, calendar = load(inputs.offering.customer_sla_id)
        return SlaDecision(
            sla,
            calendar,
            "offering",
            f"customer default on offering {inputs.offering.name}: {sla.name}",
        )
    sla, calendar = load(inputs.service.default_sla_id)
    return SlaDecision(
        sla, calendar, "service", f"service default of {inputs.service.name}: {sla.name}"
    )
