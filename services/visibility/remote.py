"""The trusted side: reaching a trusting account's requests live, over the trust.

Every call is signed by this account's key, names the trust, and (for actions) the
acting person; it asks only for the offerings routed to that person's teams (admins and
auditors: all of the trust's). Answers are validated before use; a peer's words never
reach the person, only what we make of its status and stable code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from marshmallow import Schema, ValidationError

from account_node.context import Work
from account_node.errors import Conflict, NotFound, ValidationFailed
from account_node.identity.store import TeamStore
from services.offerings.service import Offerings
from services.visibility import schemas
from trust.errors import PeerDeclined, PeerOutcomeUnknown, PeerUnavailable
from trust.handshake import Handshake
from trust.keystore import OwnKey
from trust.models import Trust

EVERYTHING = frozenset({"admin", "auditor"})


class RemoteRequestNotFound(NotFound):
    code = "request_not_found"


class RemoteRefused(Conflict):
    code = "peer_refused_change"
    title = "The customer's node refused the change"


@dataclass(frozen=True)
class Reach:
    """One trust as this person may reach it: the offerings routed to their teams, and
    their names as this account signed them (a peer's names for them are not shown)."""

    trust: Trust
    offering_ids: tuple[str, ...]
    offering_names: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def base(self) -> str:
        return (
            f"{self.trust.peer_node}/federation/v1/{self.trust.peer_account}"
            f"/trusts/{self.trust.id}/requests"
        )


class TrustedRequests:
    def __init__(self, work: Work, handshake: Handshake) -> None:
        self.work = work
        self.handshake = handshake

    # --- who reaches what --------------------------------------------------------------

    def reaches(
        self,
        trust_id: str | None = None,
        team_id: str | None = None,
        service_id: str | None = None,
    ) -> list[Reach]:
        """Active trusts where this account is trusted, with the offerings routed to the
        person's teams (narrowed to ``team_id`` and ``service_id`` if given). A specialist
        with no such offering reaches nothing there."""
        everything = bool(self.work.roles & EVERYTHING)
        teams = set(
            TeamStore(self.work.session, self.work.scope).teams_of(self.work.actor.person_id)
        )
        offered = Offerings(self.work).offered_by_trust()
        found = []
        for trust in (
            self.handshake.trusts.active_trusted() if trust_id is None else [self._trust(trust_id)]
        ):
            if trust.role != "trusted" or trust.status != "active":
                continue
            reached = [
                o
                for o in offered.get(trust.id, [])
                if (everything or o.team_id in teams)
                and (team_id is None or o.team_id == team_id)
                and (service_id is None or o.service_id == service_id)
            ]
            names = {o.id: o.name for o in reached}
            found.append(Reach(trust, tuple(names), names))
        return found

    def reach(self, trust_id: str) -> Reach:
        found = self.reaches(trust_id)
        if not found:
            raise NotFound(f"trust {trust_id} is not an active trust of this account")
        return found[0]

    def _trust(self, trust_id: str) -> Trust:
        trust = self.handshake.trusts.get(trust_id)
        if trust.role != "trusted":
            raise NotFound(f"trust {trust_id} gives this account no requests to see")
        return trust

    # --- calls -------------------------------------------------------------------------

    def list(self, trust_id: str, args: dict[str, Any]) -> dict[str, Any]:
        reach = self.reach(trust_id)
        try:
            return self.list_in(reach, args, self.handshake.keys.current())
        except PeerDeclined as exc:
            if exc.extensions.get("peer_status") == 422:  # e.g. a cursor it never issued
                code = exc.extensions.get("peer_code")
                raise ValidationFailed(
                    f"the customer's node found the query invalid ({code})"
                ) from exc
            raise

    def list_in(
        self, reach: Reach, args: dict[str, Any], key: OwnKey, timeout: float | None = None
    ) -> dict[str, Any]:
        """One page from the trusting node (safe to call from a worker thread: no DB)."""
        wanted = [o for o in args.get("offering") or reach.offering_ids if o in reach.offering_ids]
        if not wanted:
            return {"items": [], "next_cursor": None}
        query = {**{k: v for k, v in args.items() if v not in (None, [], "")}, "offering": wanted}
        url = f"{reach.base}?{urlencode(query, doseq=True)}"
        answer = self._signed("GET", url, key, reach.trust, timeout=timeout)
        try:
            page = schemas.check_shared_page(answer, int(args.get("limit") or 200), wanted)
        except schemas.Invalid as exc:
            raise PeerUnavailable("the peer's answer was not valid") from exc
        for item in page["items"]:
            item["offering_name"] = reach.offering_names.get(item["offering"], "")
        return page

    def read(self, trust_id: str, request_id: str) -> dict[str, Any]:
        reach = self.reach(trust_id)
        answer = self._call(reach, "GET", f"/{_segment(request_id)}")
        detail = self._valid(schemas.SharedRequestDetail(), answer)
        return self._within(reach, detail, request_id)

    def add_note(self, trust_id: str, request_id: str, body: str, public: bool) -> dict[str, Any]:
        reach = self.reach(trust_id)
        self.read(trust_id, request_id)  # the offering must be one routed to this person
        answer = self._call(
            reach,
            "POST",
            f"/{_segment(request_id)}/notes",
            {"body": body, "public": public, "actor_name": self.work.actor.name},
        )
        return self._valid(schemas.SharedEvent(), answer, acted=True)

    def change_status(
        self, trust_id: str, request_id: str, status: str, reason: str
    ) -> dict[str, Any]:
        reach = self.reach(trust_id)
        self.read(trust_id, request_id)
        answer = self._call(
            reach,
            "POST",
            f"/{_segment(request_id)}/status",
            {"status": status, "reason": reason, "actor_name": self.work.actor.name},
        )
        detail = self._valid(schemas.SharedRequestDetail(), answer, acted=True)
        return self._within(reach, detail, request_id)

    def _call(self, reach: Reach, method: str, path: str, body: Any = None) -> Any:
        try:
            return self._signed(
                method, reach.base + path, self.handshake.keys.current(), reach.trust, body
            )
        except PeerDeclined as exc:
            status, code = exc.extensions.get("peer_status"), exc.extensions.get("peer_code")
            if status == 404:
                raise RemoteRequestNotFound("no such request on this trust") from exc
            if status == 409:
                raise RemoteRefused(f"the customer's node refused the change ({code})") from exc
            if status == 422:
                raise ValidationFailed(
                    f"the customer's node found the change invalid ({code})"
                ) from exc
            raise

    def _signed(
        self,
        method: str,
        url: str,
        key: OwnKey,
        trust: Trust,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        return self.handshake.peers.signed(
            method,
            url,
            key,
            now=int(self.work.clock.now().timestamp()),
            body=body,
            trust_id=trust.id,
            actor=self.work.actor.person_id,
            timeout=timeout,
        )

    @staticmethod
    def _valid(schema: Schema, answer: Any, *, acted: bool = False) -> Any:
        """``answer`` loaded by ``schema``, or the peer unavailable. After an action
        (``acted``) the peer took the call and said yes: what it did is unknown, not
        undone, and a person told "nothing changed" would do it twice."""
        try:
            return schema.load(answer)
        except ValidationError as exc:
            if acted:
                raise PeerOutcomeUnknown(
                    "the peer took the change; its answer was not valid"
                ) from exc
            raise PeerUnavailable("the peer's answer was not valid") from exc

    @staticmethod
    def _within(reach: Reach, detail: dict[str, Any], request_id: str) -> dict[str, Any]:
        if detail["offering"] not in reach.offering_ids or detail["id"] != request_id:
            raise RemoteRequestNotFound(f"request {request_id} not found on this trust")
        detail["offering_name"] = reach.offering_names.get(detail["offering"], "")
        return detail


def _segment(value: str) -> str:
    if not schemas.TOKEN.fullmatch(value):
        raise RemoteRequestNotFound(f"request {value[:64]} not found")
    return value
