"""Offerings: a service offered with the customer's default SLA and a routing team.

Expiring an offering stops new requests at once; requests already raised stay readable
and workable until closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from account_node.context import Work
from account_node.errors import ValidationFailed
from account_node.identity.store import TeamStore
from account_node.pagination import Page
from services.catalog.service import Catalog
from services.offerings.errors import OfferingClosed, OfferingNotFound
from services.offerings.models import Offering
from services.offerings.store import OfferingStore
from services.sla.errors import HeldForTrust
from services.sla.service import Slas


def snapshot(offering: Offering) -> dict[str, Any]:
    return {
        "kind": offering.kind,
        "trust_id": offering.trust_id,
        "revision": offering.revision,
        "service_id": offering.service_id,
        "name": offering.name,
        "customer_sla_id": offering.customer_sla_id,
        "team_id": offering.team_id,
        "team_name": offering.team_name,
        "starts_at": offering.starts_at.isoformat(),
        "ends_at": offering.ends_at.isoformat() if offering.ends_at else None,
    }


class Offerings:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = OfferingStore(work.session, work.scope)

    def of_trust(self, trust_id: str) -> list[Offering]:
        return self.store.of_trust(trust_id)

    def offered_by_trust(self) -> dict[str, list[Offering]]:
        """What this account offers over each of its trusts, by trust id."""
        found: dict[str, list[Offering]] = {}
        for offering in self.store.offered():
            found.setdefault(offering.trust_id or "", []).append(offering)
        return found

    def get(self, offering_id: str) -> Offering:
        return self.store.get(offering_id)

    def get_open(self, offering_id: str) -> Offering:
        """``offering_id`` as the account's people see it: only while they may raise
        requests on it (a received offering's trust deactivated hides it too)."""
        found = self.store.open_to_raisers(offering_id, self.work.clock.now())
        if found is None:
            raise OfferingNotFound(f"offering {offering_id} not found")
        return found

    def page(
        self,
        cursor: str | None,
        limit: int,
        *,
        open_only: bool = False,
        kind: str | None = None,
        trust_id: str | None = None,
    ) -> Page[Offering]:
        """``open_only`` also leaves out what this account offers to others: its people
        raise requests on local and received offerings only."""
        now = self.work.clock.now()
        criteria: list[Any] = []
        if open_only:
            criteria += self.store.open_criteria(now)
        if kind == "local":
            criteria.append(Offering.trust_id.is_(None))
        elif kind == "offered":
            criteria += [Offering.trust_id.is_not(None), Offering.remote_id.is_(None)]
        elif kind == "received":
            criteria.append(Offering.remote_id.is_not(None))
        if trust_id:
            criteria.append(Offering.trust_id == trust_id)
        return self.store.page(cursor, limit, *criteria)

    def check_open(
        self, offering: Offering, trust_active: bool, now: datetime | None = None
    ) -> None:
        """Raise OfferingClosed unless ``offering`` takes new requests ``now`` (default:
        the clock's now); ``trust_active``: its trust, if it has one, is active. (Raising
        a request reads the offering with its service, trust and SLA in one query, under
        the offering's lock, and passes the moment it raises the request at:
        RequestStore.offering_terms.)"""
        if offering.kind == "offered":
            raise OfferingClosed(
                f"offering {offering.name} is offered to {offering.peer_account}; "
                "its requests are raised on that account's node",
                errors={"offering_id": ["requests for this offering are raised by the customer"]},
            )
        if not offering.is_open(now or self.work.clock.now()):
            raise OfferingClosed(
                f"offering {offering.name} is not open for new requests",
                errors={"offering_id": ["the offering has ended or not yet started"]},
            )
        if offering.trust_id and not trust_active:
            raise OfferingClosed(
                f"the trust offering {offering.name} has ended",
                errors={"offering_id": ["the provider's trust has ended; raise no new requests"]},
            )

    def create(
        self,
        service_id: str,
        name: str,
        team_id: str,
        customer_sla_id: str | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> Offering:
        now = self.work.clock.now()
        offering = Offering(created_at=now, starts_at=starts_at or now, ends_at=ends_at)
        self._apply(
            offering,
            service_id=service_id,
            name=name,
            team_id=team_id,
            customer_sla_id=customer_sla_id,
        )
        self.store.add(offering)
        self.work.record("offering.create", "offering", offering.id, after=snapshot(offering))
        return offering

    def update(self, offering_id: str, **changes: Any) -> Offering:
        """Change the offering, read under its lock (``expire`` says why)."""
        offering = _not_received(self.store.locked(offering_id))
        self.check_end(offering, changes)
        before = snapshot(offering)
        self._apply(offering, **changes)
        self.store.session.flush()
        self.work.record("offering.update", "offering", offering.id, before, snapshot(offering))
        return offering

    def expire(self, offering_id: str, at: datetime | None = None) -> Offering:
        """End the offering ``at`` (default now): the moment a signed revision sent to the
        customer gives, so that both sides, and the document, hold the same end.

        The offering is read under its lock, and now taken only then: a create that read
        it open holds a share of that lock until it commits (RequestStore.offering_terms),
        so the end comes after every request raised on it, and a create that comes
        meanwhile waits, then finds it ended. Requests are never raised at or after the
        end of the offering they are on: the trusting side of a trust counts on that to
        tell the requests its provider reaches (``services.visibility.store``)."""
        offering = _not_received(self.store.locked(offering_id))
        now = at or self.work.clock.now()
        if offering.ends_at is None or offering.ends_at > now:
            before = snapshot(offering)
            offering.ends_at = max(now, offering.starts_at)
            self.store.session.flush()
            self.work.record("offering.expire", "offering", offering.id, before, snapshot(offering))
        return offering

    def check_end(self, offering: Offering, changes: dict[str, Any]) -> None:
        """Refuse to move an offering's end into the past. Requests raised since that
        moment would then be raised after the end, and out of their provider's reach
        (``services.visibility.store``): to end an offering now, expire it."""
        end = changes.get("ends_at")
        if end is not None and end != offering.ends_at and end < self.work.clock.now():
            raise ValidationFailed(
                errors={"ends_at": ["must not be in the past: to end the offering now, expire it"]}
            )

    def _apply(self, offering: Offering, **fields: Any) -> None:
        for name, value in self.check(offering, **fields).items():
            setattr(offering, name, value)

    def check(self, offering: Offering, **fields: Any) -> dict[str, Any]:
        """The changes, validated against this account's records (nothing is written)."""
        errors: dict[str, list[str]] = {}
        if "service_id" in fields and Catalog(self.work).find(fields["service_id"]) is None:
            errors["service_id"] = ["no such service in this account"]
        if (
            "team_id" in fields
            and TeamStore(self.work.session, self.work.scope).find(fields["team_id"]) is None
        ):
            errors["team_id"] = ["no such team in this account"]
        if (
            fields.get("customer_sla_id")
            and Slas(self.work).find(fields["customer_sla_id"]) is None
        ):
            errors["customer_sla_id"] = ["no such SLA in this account"]
        if "name" in fields and not (fields["name"] or "").strip():
            errors["name"] = ["must not be empty"]
        starts = fields.get("starts_at", offering.starts_at)
        ends = fields.get("ends_at", offering.ends_at)
        if starts and ends and ends <= starts:
            errors["ends_at"] = ["must be after starts_at"]
        if errors:
            raise ValidationFailed(errors=errors)
        return {name: value.strip() if name == "name" else value for name, value in fields.items()}


def _not_received(offering: Offering) -> Offering:
    if offering.kind == "received":
        raise HeldForTrust(
            f"offering {offering.name} is {offering.peer_account}'s, received over trust "
            f"{offering.trust_id}; only its provider changes or ends it"
        )
    return offering
