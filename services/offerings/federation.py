"""Offerings over a trust (DESIGN section 5): signed by the trusted account, held by both.

The trusted side (the MSP) offers one of its services over an active trust: the offering,
its terms (SLA targets, pausing statuses, calendar) and its routing team, as a document
signed with its account key. The document is delivered to the trusting node *before*
anything is written here, so an offering exists on both sides or on neither, and a peer
hosted on this same node (sharing an SQLite file) is never kept waiting on our lock.

The trusting side checks the call under the trust, then the document's signature with
the key the call was signed with, validates every field as untrusted input, and holds the
terms as rows of its own (service, SLAs, calendars marked ``provided_by`` the trust), so
requests are raised and measured there exactly as local ones. A newer revision replaces
the terms; the same or an older one is acknowledged and ignored (redelivery, reordering).

Expiry is a new revision with an end. The offering side stops at once; the notice goes
now, or through the outbox when the peer is down. Until it arrives the trusting node
still takes requests on the offering: those raised at or after the end it gives are
outside the offering. The provider never reaches them (``services.visibility.store``
leaves them out of every visibility call from the commit that holds the end on); they
stay on the trusting node, readable by its people as before, and each gets a public
timeline entry saying so (``offering_ended``), so that its requester knows nobody at the
provider will work it, and may cancel it or raise it again on an open offering. They
are not cancelled for them: a request is its requester's to close, and theirs to read.
Moving an end into the past by a revision is refused (``Offerings.check_end``): only an
expiry, ending it now, makes such requests, and only for as long as the notice takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from account_node.context import Work
from account_node.db import new_id
from account_node.errors import ValidationFailed
from account_node.identity.store import TeamStore
from services.catalog.service import Catalog
from services.offerings import schemas
from services.offerings.errors import OfferingNotFound
from services.offerings.models import Offering
from services.offerings.service import Offerings, snapshot
from services.requests.models import RequestEvent
from services.sla.service import Calendars, Slas
from trust.calls import TrustCall
from trust.crypto.documents import sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.errors import FederationForbidden, FederationRefused, PeerDeclined, PeerUnavailable
from trust.handshake import Handshake
from trust.keyring import Keyring
from trust.models import Trust
from trust.outbox import Outbox

OFFERING = "trustdesk-offering"


def offerings_url(trust: Trust) -> str:
    return f"{trust.peer_node}/federation/v1/{trust.peer_account}/trusts/{trust.id}/offerings"


@dataclass
class OfferingExchange:
    work: Work
    handshake: Handshake

    def __post_init__(self) -> None:
        self.offerings = Offerings(self.work)

    # --- the trusted side ------------------------------------------------------------

    def offer(
        self,
        trust_id: str,
        *,
        service_id: str,
        name: str,
        team_id: str,
        customer_sla_id: str | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> Offering:
        trust = self._trusted(trust_id)
        now = self.work.clock.now()
        offering = Offering(
            id=new_id(),
            created_at=now,
            starts_at=starts_at or now,
            ends_at=ends_at,
            trust_id=trust.id,
            peer_account=trust.peer_account,
            revision=1,
        )
        fields = self.offerings.check(
            offering,
            service_id=service_id,
            name=name,
            team_id=team_id,
            customer_sla_id=customer_sla_id,
        )
        for field, value in fields.items():
            setattr(offering, field, value)
        signed = self._sign(self._document(offering, trust))
        self._deliver(trust, signed)
        offering.document = signed
        self.offerings.store.add(offering)
        self.work.record("offering.offer", "offering", offering.id, after=snapshot(offering))
        return offering

    def revise(self, offering_id: str, **changes: Any) -> Offering:
        """Change an offered offering: the new revision reaches the customer first."""
        offering = self.offerings.get(offering_id)
        if offering.kind != "offered":
            return self.offerings.update(offering_id, **changes)
        trust = self._trusted(offering.trust_id or "")
        self.offerings.check_end(offering, changes)
        fields = self.offerings.check(offering, **changes)
        document = self._document(offering, trust, revision=offering.revision + 1, **fields)
        signed = self._sign(document)
        self._deliver(trust, signed)
        before = snapshot(offering)
        for field, value in fields.items():
            setattr(offering, field, value)
        offering.revision, offering.document = document["revision"], signed
        self.offerings.store.session.flush()
        self.work.record("offering.revise", "offering", offering.id, before, snapshot(offering))
        return offering

    def expire(self, offering_id: str) -> Offering:
        """End the offering now. This side stops at once; the customer is told now, or by
        the outbox as soon as its node answers again."""
        offering = self.offerings.get(offering_id)
        now = self.work.clock.now()
        if offering.kind != "offered" or not (offering.ends_at is None or offering.ends_at > now):
            return self.offerings.expire(offering_id)
        trust = self.handshake.trusts.find(offering.trust_id)
        signed, end = None, max(now, offering.starts_at)
        if trust is not None and trust.status == "active":
            document = self._document(offering, trust, revision=offering.revision + 1, ends_at=end)
            signed = self._sign(document)
            try:
                self._deliver(trust, signed)
            except (PeerUnavailable, PeerDeclined):
                Outbox(self.work).add(
                    trust, "offerings", {"offering": signed}, actor_id=self.work.actor.person_id
                )
                self.work.record("offering.expiry_queued", "offering", offering.id)
        expired = self.offerings.expire(offering_id, at=end)
        if signed is not None:
            expired.revision, expired.document = signed["document"]["revision"], signed
            self.offerings.store.session.flush()
        return expired

    def _trusted(self, trust_id: str) -> Trust:
        trust = self.handshake.trusts.find(trust_id)
        if trust is None:
            raise ValidationFailed(errors={"trust_id": ["no such trust in this account"]})
        if trust.role != "trusted":
            raise ValidationFailed(
                errors={"trust_id": ["only the trusted side of a trust offers services over it"]}
            )
        if trust.status != "active":
            raise ValidationFailed(errors={"trust_id": [f"the trust is {trust.status}"]})
        return trust

    def _document(self, offering: Offering, trust: Trust, **changes: Any) -> dict[str, Any]:
        state = {**{c: getattr(offering, c) for c in _STATE}, **changes}
        catalog, slas, calendars = Catalog(self.work), Slas(self.work), Calendars(self.work)
        service = catalog.get(state["service_id"])

        def terms(sla_id: str) -> dict[str, Any]:
            sla = slas.get(sla_id)
            calendar = calendars.get(sla.calendar_id)
            return {
                "id": sla.id,
                "name": sla.name,
                "targets": sla.targets,
                "pausing_statuses": list(sla.pausing_statuses),
                "calendar": {
                    "id": calendar.id,
                    "name": calendar.name,
                    "definition": calendar.definition,
                },
            }

        team = TeamStore(self.work.session, self.work.scope).get(state["team_id"])
        return {
            "id": offering.id,
            "revision": state.get("revision", offering.revision),
            "trust": trust.id,
            "trusted": self.work.scope.account_id,
            "trusting": trust.peer_account,
            "name": state["name"],
            "service": {
                "id": service.id,
                "name": service.name,
                "description": service.description,
                "default_sla": terms(service.default_sla_id),
            },
            "customer_sla": terms(state["customer_sla_id"]) if state["customer_sla_id"] else None,
            "team": {"id": team.id, "name": team.name},
            "start": state["starts_at"].isoformat(),
            "end": state["ends_at"].isoformat() if state["ends_at"] else None,
        }

    def _sign(self, document: dict[str, Any]) -> dict[str, Any]:
        own = self.handshake.keys.current()
        return sign_document(document, own.signing, OFFERING, keyid=own.ref).to_json()

    def _deliver(self, trust: Trust, signed: dict[str, Any]) -> None:
        self.handshake.peers.post_signed(
            offerings_url(trust),
            {"offering": signed, "actor_name": self.work.actor.name},
            self.handshake.keys.current(),
            now=int(self.work.clock.now().timestamp()),
            trust_id=trust.id,
            actor=self.work.actor.person_id,
        )

    # --- the trusting side -----------------------------------------------------------

    def receive(self, call: TrustCall, body: dict[str, Any]) -> Offering:
        trust = call.trust
        document = self._verified(call, body.get("offering"))
        try:
            doc = schemas.OfferingDocument().load(document)
        except ValidationError as exc:
            raise ValidationFailed(
                "The offering document is invalid", errors=_flatten(exc.messages)
            ) from exc
        if (doc["trust"], doc["trusted"], doc["trusting"]) != (
            trust.id,
            trust.peer_account,
            self.work.scope.account_id,
        ):
            raise FederationForbidden(
                "the offering names another trust or other accounts", reason="offering_mismatch"
            )
        held = self.offerings.store.received(trust.id, doc["id"])
        if held is not None:
            # Read again under its lock: two deliveries of one revision at once (a retry
            # while the first is still being answered) apply it, and tell those who
            # raised requests after its end, once; creates on it wait meanwhile.
            held = self.offerings.store.locked(held.id)
        if held is not None and held.revision >= doc["revision"]:
            return held
        # The requests raised after an earlier end, locked now: before anything here
        # takes the audit chain's head, as every change of a request does (its row, then
        # the head). Taken after the head, the requester cancelling one as the end
        # arrived deadlocked with it.
        late = self._raised_after_new_end(held, doc["end"])
        default_sla = self._hold_terms(trust.id, doc["service"]["default_sla"])
        customer_sla = (
            self._hold_terms(trust.id, doc["customer_sla"]) if doc["customer_sla"] else None
        )
        service = Catalog(self.work).hold(
            trust.id,
            doc["service"]["id"],
            doc["service"]["name"],
            doc["service"]["description"],
            default_sla,
        )
        fields = {
            "name": doc["name"],
            "service_id": service.id,
            "customer_sla_id": customer_sla,
            "team_id": None,
            "team_name": doc["team"]["name"],
            "starts_at": doc["start"],
            "ends_at": doc["end"],
            "revision": doc["revision"],
            "document": {"document": document, "signatures": body["offering"]["signatures"]},
        }
        if held is None:
            held = Offering(
                created_at=self.work.clock.now(),
                trust_id=trust.id,
                peer_account=trust.peer_account,
                remote_id=doc["id"],
                **fields,
            )
            self.offerings.store.add(held)
            self.work.record("offering.receive", "offering", held.id, after=snapshot(held))
            return held
        before = snapshot(held)
        for field, value in fields.items():
            setattr(held, field, value)
        self.offerings.store.session.flush()
        self.work.record("offering.receive", "offering", held.id, before, snapshot(held))
        self._tell_raised_after_end(held, late)
        return held

    def _raised_after_new_end(self, held: Offering | None, end: datetime | None) -> list[Any]:
        """The requests raised here at or after ``end``, the end the revision gives, and
        before the end ``held`` had (those were told then), locked; none unless the end
        comes earlier than it was."""
        if held is None or end is None or (held.ends_at is not None and held.ends_at <= end):
            return []  # new, no end, or not an earlier one: nothing is newly after it
        return self.offerings.store.raised_after_end(held.id, end, held.ends_at)

    def _tell_raised_after_end(self, held: Offering, late: list[Any]) -> None:
        """Say on each of ``late``, raised here at or after the end ``held`` now has,
        that its provider does not see it (module docstring), in a public timeline entry
        by the provider's person who ended it, and in the audit log."""
        end = held.ends_at
        if end is None or not late:
            return
        actor, now = self.work.actor, self.work.clock.now()
        body = (
            f"{held.peer_account} ended the offering {held.name} at "
            f"{end:%Y-%m-%d %H:%M:%S} UTC, before this request was raised; the end reached "
            f"this node only afterwards. {held.peer_account} does not see or work requests "
            "raised after the end, so nobody there will work this one. It stays here for "
            "you to read, cancel or close; raise it again on an open offering if you "
            "still need help."
        )
        for request in late:
            request.event_count += 1
            request.updated_at = now
            self.offerings.store.session.add(
                RequestEvent(
                    account_id=self.work.scope.account_id,
                    request_id=request.id,
                    seq=request.event_count,
                    at=now,
                    kind="offering_ended",
                    public=True,
                    actor_id=actor.person_id,
                    actor_name=actor.name,
                    vouched_by=actor.vouched_by,
                    body=body,
                    data={"offering_id": held.id, "ends_at": end.isoformat()},
                )
            )
            after = {"number": request.number, "offering_id": held.id, "ends_at": end.isoformat()}
            self.work.record("request.raised_after_end", "request", request.id, after=after)

    def received(self, trust_id: str, remote_id: str) -> Offering:
        found = self.offerings.store.received(trust_id, remote_id)
        if found is None:
            raise OfferingNotFound(f"offering {remote_id} not found")
        return found

    def _verified(self, call: TrustCall, signed: Any) -> dict[str, Any]:
        """The document, if the key that signed the call signed it (a pinned key)."""
        key = Keyring(self.work.session, self.work.scope, self.work.clock).resolve(
            call.signature.keyid
        )
        if key is None:  # rotated away between the call's check and now: refuse, not crash
            raise FederationRefused("the signing key is no longer pinned", reason="key_unknown")
        try:
            return verify_document(signed, OFFERING, {call.signature.keyid: key})
        except SignatureError as exc:
            raise FederationRefused(exc.detail, reason=exc.code) from exc

    def _hold_terms(self, trust_id: str, terms: dict[str, Any]) -> str:
        calendar = terms["calendar"]
        held_calendar = Calendars(self.work).hold(
            trust_id, calendar["id"], calendar["name"], calendar["definition"]
        )
        sla = Slas(self.work).hold(
            trust_id,
            terms["id"],
            terms["name"],
            held_calendar.id,
            terms["targets"],
            terms["pausing_statuses"],
        )
        return sla.id


_STATE = ("service_id", "name", "team_id", "customer_sla_id", "starts_at", "ends_at")


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix.rstrip(".") or "offering"] = list(messages)
    else:
        flat[prefix.rstrip(".") or "offering"] = [str(messages)]
    return flat
