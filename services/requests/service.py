"""Requests: raising, reading, working and measuring them (DESIGN section 4).

Who sees what: admins and auditors see every request of the account; specialists see the
requests routed to their teams or assigned to them, and their own; end users see their
own. A request outside that view answers 404, exactly like one that does not exist.

Who works what: admins work every request, specialists those routed to their teams or
assigned to them (``works``). Everyone else acts on a request only as its requester:
edits its text, notes publicly, cancels, closes or reopens. That includes a specialist
on a request they raised that is none of their teams' work: raising one does not make it
theirs to resolve, assign or put on another SLA.

Every change writes a timeline entry and an audit event, moves the clocks if it should,
and schedules the SLA checks after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from account_node.context import Work
from account_node.db import new_id
from account_node.errors import Forbidden, NotFound, ValidationFailed
from account_node.identity.store import PeopleStore, TeamStore
from account_node.pagination import Page
from services.catalog.service import Catalog
from services.cmdb.service import Cmdb
from services.offerings.service import Offerings
from services.requests import lifecycle
from services.requests.clocks import ClockReading, read_clocks
from services.requests.errors import (
    IdempotencyKeyReused,
    IllegalTransition,
    RequestClosed,
)
from services.requests.idempotency import Asked, stored_key
from services.requests.models import Request, RequestEvent, RequestPause
from services.requests.monitor import apply_readings
from services.requests.schedule import schedule_clock_checks
from services.requests.signals import request_changed
from services.requests.sla_policy import SlaDecision, SlaInputs, decide_sla
from services.requests.store import RequestFilter, RequestStore, Visibility
from services.sla.models import PRIORITIES

STAFF = frozenset({"admin", "specialist"})
UNSET: Any = object()


@dataclass(frozen=True)
class RequestView:
    """A request with what its pages show: pauses and live clock readings."""

    request: Request
    pauses: list[RequestPause]
    response: ClockReading
    resolution: ClockReading


def snapshot(request: Request) -> dict[str, Any]:
    return {
        "number": request.number,
        "subject": request.subject,
        "status": request.status,
        "priority": request.priority,
        "team_id": request.team_id,
        "assignee_id": request.assignee_id,
        "ci_id": request.ci_id,
        "sla_id": request.sla_id,
        "sla_source": request.sla_source,
    }


class Requests:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = RequestStore(work.session, work.scope)
        self.people = PeopleStore(work.session, work.scope)
        self.teams = TeamStore(work.session, work.scope)
        self._raised: dict[str, RequestView] = {}  # views of requests raised here (view_of)
        self._changing: dict[str, Request] = {}  # requests locked for a change here
        self._worked: dict[str, bool] = {}  # whether the caller worked them then (works)

    # --- who sees what -------------------------------------------------------------

    @property
    def is_staff(self) -> bool:
        return bool(self.work.roles & STAFF)

    def visibility(self) -> Visibility:
        roles, me = self.work.roles, self.work.actor.person_id
        if roles & {"admin", "auditor"}:
            return Visibility(everything=True)
        if "specialist" in roles:
            return Visibility(requester_id=me, team_ids=self._my_teams, assignee_id=me)
        return Visibility(requester_id=me, colleague_ids=self.teams.request_sharers(me))

    @cached_property
    def _my_teams(self) -> tuple[str, ...]:
        return self.teams.teams_of(self.work.actor.person_id)

    def reads_internal(self, team_id: str | None, assignee_id: str | None) -> bool:
        """Whether the caller reads the internal notes of a request of this account
        routed to ``team_id`` and assigned to ``assignee_id``: admins and auditors, and
        the specialists who work it (``works``); never its requester as such."""
        if self.work.roles & {"admin", "auditor"}:
            return True
        return "specialist" in self.work.roles and self._on_my_work(team_id, assignee_id)

    def _on_my_work(self, team_id: str | None, assignee_id: str | None) -> bool:
        """Routed to one of the caller's teams, or assigned to the caller."""
        work = Visibility(team_ids=self._my_teams, assignee_id=self.work.actor.person_id)
        return work.covers(None, team_id, assignee_id)

    def works(self, request: Request) -> bool:
        """Whether the caller works ``request``, with a specialist's or admin's powers,
        rather than only being its requester (module docstring). A trusted account's
        specialist, acting through the federation, works what the trust reaches: the
        only requests it is shown. Settled for a request once this unit of work takes it
        for a change (``_for_change``)."""
        if request.id in self._worked:
            return self._worked[request.id]
        roles = self.work.roles
        if "admin" in roles:
            return True
        if "specialist" not in roles:
            return False
        if self.work.actor.vouched_by is not None:
            return True
        return self._on_my_work(request.team_id, request.assignee_id)

    def get(self, request_id: str) -> Request:
        return self.store.visible(request_id, self.visibility())

    def _for_change(self, request_id: str) -> Request:
        """A request the caller may change as its requester at least, its row locked
        until commit and read under the lock: every check made on it (its status, the
        caller's rights, the transitions allowed) holds when the change is written."""
        if not self.work.roles & {"admin", "specialist", "end_user"}:
            raise Forbidden("auditors read requests; they do not change them")
        # Found, and the caller's powers over it settled, once per unit of work: the
        # steps of one change (a PATCH routes the request to another team, then sets its
        # status) are judged by what the caller could do when it began, not refused
        # half-way because an earlier step took the request out of their sight.
        request = self._changing.get(request_id)
        if request is None:
            request = self.store.visible_for_change(request_id, self.visibility())
            self._worked[request.id] = self.works(request)
            self._changing[request_id] = request
        if not self.works(request) and not self.work.actor.is_person(request.requester_id):
            raise Forbidden("only the requester or staff can change a request")
        return request

    def _for_work(self, request_id: str) -> Request:
        """A request the caller works (``works``); its requester alone may not do this."""
        self._require_staff()
        request = self._for_change(request_id)
        self._require_work(request)
        return request

    def _require_staff(self) -> None:
        if not self.is_staff:
            raise Forbidden("only specialists and admins can do this")

    def _require_work(self, request: Request) -> None:
        if not self.works(request):
            raise Forbidden(
                "only admins and the specialists the request is routed or assigned to can "
                "do this; on your own request you act as its requester"
            )

    # --- reading ---------------------------------------------------------------------

    def view(self, request_id: str) -> RequestView:
        request = self.get(request_id)
        pauses = self.store.pauses(request.id) if _may_have_paused(request) else []
        return self._view(request, pauses)

    def view_after_change(self, request_id: str) -> RequestView:
        """The request as the caller's change in this unit of work left it, even where
        that change took it out of their sight (they routed it to another team, or
        handed it to someone else): the answer to a change is its outcome, not a 404
        that would roll it back."""
        request = self._changing.get(request_id)
        if request is None:
            return self.view(request_id)
        pauses = self.store.pauses(request.id) if _may_have_paused(request) else []
        return self._view(request, pauses)

    def view_of(self, created: Request) -> RequestView:
        """The view of a request this unit of work just raised (no pauses yet, no re-read):
        the one ``create`` read before it took the account's locks, so that nothing but
        writes happens while other creates wait."""
        return self._raised.get(created.id) or self._view(created, [])

    def _view(self, request: Request, pauses: list[RequestPause]) -> RequestView:
        response, resolution = read_clocks(
            request, [(p.began_at, p.ended_at) for p in pauses], self.work.clock.now()
        )
        return RequestView(request, pauses, response, resolution)

    def page(self, filters: RequestFilter, cursor: str | None, limit: int) -> Page[RequestView]:
        page = self.store.visible_page(self.visibility(), filters, cursor, limit)
        pauses = self.store.pauses_of(r.id for r in page.items if _may_have_paused(r))
        views = [self._view(r, pauses.get(r.id, [])) for r in page.items]
        return Page(views, page.next_cursor)

    def timeline(self, request_id: str) -> list[RequestEvent]:
        request = self.get(request_id)
        internal = bool(self.work.roles & {"admin", "auditor"}) or self.works(request)
        return self.store.timeline(request.id, include_internal=internal)

    # --- raising -----------------------------------------------------------------------

    def create(
        self,
        *,
        subject: str,
        description: str = "",
        service_id: str | None = None,
        offering_id: str | None = None,
        requester_id: str | None = None,
        ci_id: str | None = None,
        priority: str = "p3",
        idempotency_key: str | None = None,
    ) -> tuple[Request, bool]:
        """Raise a request; returns it and whether it was created (not an idempotent replay).

        With ``idempotency_key``, a request the caller already raised for this requester
        with that key is returned instead, if this asks for the same request, and
        ``IdempotencyKeyReused`` raised if not; also when another create with the key
        commits first while this one runs. Nothing is written then. The key is the
        caller's own: someone raising for the same requester with the same key raises a
        request of their own (``services.requests.idempotency``).

        On an offering, the request is raised at a moment taken once the offering is
        read under its lock (``RequestStore.offering_terms``): the offering is checked
        open at that moment and the request stamped with it, so an expiry committing
        meanwhile either waits for this create or is seen by it."""
        caller_id = self.work.actor.person_id
        requester_id = requester_id or caller_id
        if requester_id != caller_id:
            self._require_staff()
        _check_subject(subject)
        asked = Asked.of(
            requester_id=requester_id, subject=subject, description=description,
            service_id=service_id, offering_id=offering_id, ci_id=ci_id, priority=priority,
        )  # fmt: skip
        key = stored_key(idempotency_key, requester_id, caller_id) if idempotency_key else None
        if key:
            earlier = self.store.by_idempotency_key(requester_id, key)
            if earlier is not None:
                return _retried(earlier, asked), False
        inputs, now = self._inputs(service_id, offering_id, requester_id, ci_id, priority)
        decision = decide_sla(self.work, inputs, self.store)
        request = Request(
            id=new_id(),
            subject=subject.strip(),
            description=description,
            service_id=inputs.service.id,
            offering_id=inputs.offering.id if inputs.offering else None,
            requester_id=requester_id,
            ci_id=inputs.ci.id if inputs.ci else None,
            priority=priority,
            status="new",
            team_id=inputs.offering.team_id if inputs.offering else None,
            assignee_id=None,
            created_at=now,
            updated_at=now,
            idempotency_key=key,
            idempotency_digests=asked.digests() if key else None,
            first_response_at=None,
            resolved_at=None,
            closed_at=None,
            override_sla_id=None,
            override_reason=None,
            clock_version=0,
            event_count=0,
        )
        _freeze_sla(request, decision)
        self._refresh(request, [])
        view = self._view(request, [])
        self._raised[request.id] = view
        first = self._new_event(
            request, "created", data={"sla": request.sla_reason, "team_id": request.team_id}
        )
        # Locks last: from the number on, other creates of this account wait until we
        # commit, so only writes follow: on PostgreSQL one statement numbers and writes
        # the request with its first timeline entry and its audit event; the caller
        # should commit at once (the API does, before rendering). (On SQLite a create on
        # an offering took the database's write lock already, to read the offering.)
        event = self.work.audit.event_fields(
            self.work.actor, "request.create", "request", request.id, after=snapshot(request)
        )
        if not key:
            audited = self.store.write_new(request, first, event)
        else:
            written = self.store.write_new_once(request, first, event)
            if written is None:  # another create with this key committed first
                earlier = self.store.by_idempotency_key(requester_id, key)
                return _retried(earlier, asked), False
            audited = written
        if not audited:
            self.work.record("request.create", "request", request.id, after=snapshot(request))
        schedule_clock_checks(self.work, request, view)  # enqueued once we commit
        self._changed(request, "created")
        return request, True

    def _inputs(
        self,
        service_id: str | None,
        offering_id: str | None,
        requester_id: str,
        ci_id: str | None,
        priority: str,
    ) -> tuple[SlaInputs, datetime]:
        """What the hierarchy decides on, and the moment the request is raised at: taken
        once the offering, if any, is read under its lock (``RequestStore.offering_terms``),
        and the one it is checked open at."""
        errors: dict[str, list[str]] = {}
        offering = service = ci = terms = None
        raised_at = None
        if offering_id:
            found = _lookup(
                errors, "offering_id", self.store.offering_terms, offering_id, requester_id
            )
            raised_at = self.work.clock.now()
            if found is not None:
                offering, service, terms = found.offering, found.service, found.requester_terms
                Offerings(self.work).check_open(offering, found.trust_active, raised_at)
                service_id = service_id or offering.service_id
                if service_id != offering.service_id:
                    errors["service_id"] = ["is not the service of that offering"]
        if service_id and service is None:
            service = _lookup(errors, "service_id", Catalog(self.work).get, service_id)
            if service is not None and service.provided_by:
                # Its offering says who may raise on it, until when, routed to whom.
                errors["service_id"] = [
                    "this service is provided over a trust: raise the request on its "
                    "offering (offering_id)"
                ]
        if service is not None and not service.active:
            errors["service_id"] = ["this service no longer takes requests"]
        if not service_id and not offering_id:
            errors["service_id"] = ["give a service_id or an offering_id"]
        person = self.store.person(requester_id)
        if person is None or not person.active:
            errors["requester_id"] = ["no such active person in this account"]
        if ci_id:  # only a CI the caller sees: another's is as unknown as a foreign one
            ci = _lookup(errors, "ci_id", Cmdb(self.work).visible, ci_id)
        if priority not in PRIORITIES:
            errors["priority"] = [f"must be one of {', '.join(PRIORITIES)}"]
        if errors or service is None:
            raise ValidationFailed(errors=errors or {"service_id": ["unknown service"]})
        inputs = SlaInputs(service, requester_id, offering, ci, requester_terms=terms)
        return inputs, raised_at if raised_at is not None else self.work.clock.now()

    # --- working -------------------------------------------------------------------------

    def update(self, request_id: str, **changes: Any) -> Request:
        request = self._for_change(request_id)
        self._ensure_open(request)
        if set(changes) - {"subject", "description"}:
            self._require_staff()
            self._require_work(request)
        before = snapshot(request)
        if changes.get("ci_id"):
            _lookup_or_raise("ci_id", Cmdb(self.work).visible, changes["ci_id"])
        if "subject" in changes:
            changes["subject"] = _check_subject(changes["subject"])
        for name in ("subject", "description", "ci_id"):
            if name in changes:
                setattr(request, name, changes[name])
        if "priority" in changes and changes["priority"] != request.priority:
            if changes["priority"] not in PRIORITIES:
                raise ValidationFailed(
                    errors={"priority": [f"must be one of {', '.join(PRIORITIES)}"]}
                )
            request.priority = changes["priority"]
            self._event(
                request, "priority", data={"from": before["priority"], "to": request.priority}
            )
            self._moved(request)
        request.updated_at = self.work.clock.now()
        self.store.session.flush()
        self.work.record("request.update", "request", request.id, before, snapshot(request))
        self._changed(request, "updated")
        return request

    def change_status(self, request_id: str, status: str, reason: str = "") -> Request:
        request = self._for_change(request_id)
        if status == request.status:
            return request
        staff, held = self.works(request), request.assignee_id is not None
        if not lifecycle.can_move(request.status, status, staff=staff, held=held):
            allowed = lifecycle.allowed_transitions(request.status, staff=staff, held=held)
            unheld = status == "assigned" and not held and staff
            raise IllegalTransition(
                f"a request cannot go from {request.status} to {status}"
                + ("; no one holds it: assign a person (assignee_id)" if unheld else "")
                + (f"; allowed: {', '.join(allowed)}" if allowed else "; it is final"),
                allowed=allowed,
            )
        before = snapshot(request)
        self._apply_status(request, status, reason)
        self.work.record("request.status", "request", request.id, before, snapshot(request))
        self._changed(request, "status")
        return request

    def _apply_status(self, request: Request, status: str, reason: str = "") -> None:
        now, old = self.work.clock.now(), request.status
        self._pause_as_terms_say(request, status, now)
        if status == "resolved":
            request.resolved_at = now
            request.first_response_at = request.first_response_at or now
        if lifecycle.is_reopen(old, status) and request.resolved_at is not None:
            # The resolution clock stood still while resolved and continues from there.
            self.store.session.add(
                RequestPause(
                    request_id=request.id,
                    began_at=request.resolved_at,
                    ended_at=now,
                    status="resolved",
                )
            )
            request.resolved_at = None
        if status in lifecycle.FINAL:
            request.closed_at = now
        request.status = status
        request.updated_at = now
        self.store.session.flush()
        self._event(request, "status", body=reason, data={"from": old, "to": status})
        self._moved(request)

    def _pause_as_terms_say(self, request: Request, status: str, now: datetime) -> None:
        """Open the request's pause, or end it, as its frozen terms say of ``status``."""
        pausing = set(request.sla_terms.get("pausing_statuses", []))
        open_pause = self.store.open_pause(request.id)
        if open_pause is not None and status not in pausing:
            open_pause.ended_at = now
        if status in pausing and open_pause is None:
            self.store.session.add(
                RequestPause(request_id=request.id, began_at=now, ended_at=None, status=status)
            )

    def assign(self, request_id: str, *, team_id: Any = UNSET, assignee_id: Any = UNSET) -> Request:
        request = self._for_work(request_id)
        self._ensure_open(request)
        before = snapshot(request)
        if team_id is not UNSET:
            if team_id is not None:
                _lookup_or_raise("team_id", self.teams.get, team_id)
            request.team_id = team_id
            if assignee_id is UNSET and request.assignee_id and not self._may_hold(request):
                assignee_id = None  # routed to a team they are not in: the team picks anew
        if assignee_id is not UNSET:
            if assignee_id is not None:
                self._check_assignee(request, assignee_id)
            request.assignee_id = assignee_id
        request.updated_at = self.work.clock.now()
        self.store.session.flush()
        self._event(
            request,
            "assignment",
            data={"team_id": request.team_id, "assignee_id": request.assignee_id},
        )
        if request.assignee_id and request.status == "new":
            self._apply_status(request, "assigned")
        elif request.assignee_id is None and request.status == "assigned":
            # ``assigned`` says someone holds it: with no one, it waits to be picked up.
            self._apply_status(request, "new", "no one holds the request any more")
        self.work.record("request.assign", "request", request.id, before, snapshot(request))
        if request.status != before["status"]:  # a status change like any other
            self.work.record("request.status", "request", request.id, before, snapshot(request))
        self._changed(request, "assignment")
        return request

    def _may_hold(self, request: Request) -> bool:
        """Whether the request's assignee may stay on it under its (new) team."""
        return request.team_id is None or (
            self.teams.membership(request.team_id, request.assignee_id or "") is not None
        )

    def _check_assignee(self, request: Request, assignee_id: str) -> None:
        person = self.people.find(assignee_id)
        if person is None or not person.active or not set(person.roles) & STAFF:
            raise ValidationFailed(
                errors={"assignee_id": ["must be an active specialist or admin of this account"]}
            )
        if request.team_id and self.teams.membership(request.team_id, assignee_id) is None:
            raise ValidationFailed(
                errors={"assignee_id": ["is not a member of the request's team"]}
            )

    def add_note(self, request_id: str, body: str, *, public: bool = True) -> RequestEvent:
        request = self._for_change(request_id)
        self._ensure_open(request, allow_resolved=True)
        if not body.strip():
            raise ValidationFailed(errors={"body": ["must not be empty"]})
        works = self.works(request)
        if not public and not works:
            raise ValidationFailed(
                errors={"public": ["only those who work the request write internal notes"]}
            )
        event = self._event(request, "note", body=body, public=public)
        if works and public and request.first_response_at is None:
            request.first_response_at = event.at
            self._moved(request)
        is_requester = self.work.actor.is_person(request.requester_id)
        resumed = is_requester and request.status == "waiting_for_customer"
        before = snapshot(request)
        if resumed:
            self._apply_status(request, "in_progress", "the requester replied")
        request.updated_at = event.at
        self.store.session.flush()
        self.work.record(
            "request.note", "request", request.id, after={"note_id": event.id, "public": public}
        )
        if resumed:  # a status change like any other, in the chain with its own event
            self.work.record("request.status", "request", request.id, before, snapshot(request))
        self._changed(request, "note", internal=not public)
        return event

    # --- the SLA -------------------------------------------------------------------------

    def override_sla(self, request_id: str, sla_id: str, reason: str) -> Request:
        self._require_staff()
        if len((reason or "").strip()) < 3:
            raise ValidationFailed(errors={"reason": ["say why the SLA is overridden"]})
        request = self._for_work(request_id)
        try:  # before the request holds it: an id no SLA has may not even fit its column
            self.store.sla_terms(sla_id)
        except NotFound as exc:
            raise ValidationFailed(errors={"sla_id": [exc.detail]}) from exc
        request.override_sla_id, request.override_reason = sla_id, reason.strip()
        return self._reevaluate(request, f"override: {reason.strip()}")

    def reevaluate(self, request_id: str, reason: str) -> Request:
        """Apply the hierarchy's current inputs; only ever on explicit request."""
        self._require_staff()
        if len((reason or "").strip()) < 3:
            raise ValidationFailed(errors={"reason": ["say why the SLA is re-evaluated"]})
        return self._reevaluate(self._for_work(request_id), reason.strip())

    def _reevaluate(self, request: Request, reason: str) -> Request:
        self._ensure_open(request, allow_resolved=True)
        before = {**snapshot(request), "sla_reason": request.sla_reason}
        inputs = SlaInputs(
            service=Catalog(self.work).get(request.service_id),
            requester_id=request.requester_id,
            offering=Offerings(self.work).get(request.offering_id) if request.offering_id else None,
            ci=Cmdb(self.work).get(request.ci_id) if request.ci_id else None,
            override_sla_id=request.override_sla_id,
            override_reason=request.override_reason,
        )
        try:
            decision = decide_sla(self.work, inputs, self.store)
        except NotFound as exc:
            raise ValidationFailed(errors={"sla_id": [exc.detail]}) from exc
        _freeze_sla(request, decision)
        # The new terms may pause in other statuses: the clock stops, or runs again, now.
        self._pause_as_terms_say(request, request.status, self.work.clock.now())
        # Internal: the reason is the desk's ("VIP escalation by the CEO"), as are the
        # SLA names the portal shows staff only; the requester sees the new due times.
        self._event(
            request,
            "sla",
            body=reason,
            public=False,
            data={"from": before["sla_reason"], "to": request.sla_reason},
        )
        self._moved(request)
        after = {**snapshot(request), "sla_reason": request.sla_reason}
        self.work.record("request.sla_reevaluate", "request", request.id, before, after)
        self._changed(request, "sla", internal=True)
        return request

    def stale(self, batch: Sequence[Request]) -> list[Request]:
        """Those of ``batch`` (read without a lock) whose stored states or moments a
        reading now does not confirm: one query for the batch's pauses, none per
        request. The sweep runs beside people's work on every open request: it must not
        hold their rows, nor cost queries per request. The reading uses
        the stored moments (only a change moves them, and refreshes them in its
        transaction), so what it finds is a state whose moment passed without its job,
        or a paused clock's moving due."""
        now = self.work.clock.now()
        pauses = self.store.pauses_of(r.id for r in batch if _may_have_paused(r))
        return [
            request
            for request in batch
            if not _agrees(
                request,
                read_clocks(
                    request, [(p.began_at, p.ended_at) for p in pauses.get(request.id, ())], now
                ),
            )
        ]

    def refresh_clocks(self, request_id: str) -> bool:
        """Recompute stored states, the row locked and read afresh; True when one changed."""
        request = self.store.locked(request_id, reread=True)
        if request is None or request.status in lifecycle.FINAL:
            return False
        return self._refresh(request, self.store.pauses(request.id), record=True)

    def check_clocks(self, request_id: str, version: int) -> bool:
        """The scheduled check: recompute, then schedule the next moment. A check for an
        older clock version does nothing: the change that bumped it scheduled anew."""
        request = self.store.locked(request_id)
        if request is None or version != request.clock_version:
            return False
        pauses = self.store.pauses(request.id)
        changed = self._refresh(request, pauses, record=True)
        schedule_clock_checks(self.work, request, self._view(request, pauses))
        return changed

    # --- internals ---------------------------------------------------------------------

    def _moved(self, request: Request) -> None:
        """Something that moves a clock happened: recompute and re-schedule the checks."""
        request.clock_version += 1
        pauses = self.store.pauses(request.id)
        self._refresh(request, pauses, record=True)
        schedule_clock_checks(self.work, request, self._view(request, pauses))

    def _refresh(self, request: Request, pauses: list[RequestPause], record: bool = False) -> bool:
        spans = [(p.began_at, p.ended_at) for p in pauses]
        readings = read_clocks(request, spans, self.work.clock.now(), fresh=True)
        return apply_readings(self, request, readings, record=record)

    def _ensure_open(self, request: Request, allow_resolved: bool = False) -> None:
        if request.status in lifecycle.FINAL or (
            request.status == "resolved" and not allow_resolved
        ):
            raise RequestClosed(f"request {request.number} is {request.status}")

    def _event(self, request: Request, kind: str, **entry: Any) -> RequestEvent:
        """The request's next timeline entry (``_new_event``), added to the unit of work."""
        event = self._new_event(request, kind, **entry)
        # Written by the next query or the commit, with the request's own changes.
        self.store.stage(event)
        return event

    def _new_event(
        self,
        request: Request,
        kind: str,
        *,
        body: str = "",
        public: bool = True,
        data: dict[str, Any] | None = None,
    ) -> RequestEvent:
        """The request's next timeline entry, not yet added to the unit of work."""
        actor = self.work.actor
        request.event_count = (request.event_count or 0) + 1
        return RequestEvent(
            id=new_id(),
            request_id=request.id,
            seq=request.event_count,
            at=self.work.clock.now(),
            kind=kind,
            public=public,
            actor_id=actor.person_id,
            actor_name=actor.name,
            vouched_by=actor.vouched_by,
            body=body,
            data=data,
            account_id=self.work.scope.account_id,
        )

    def _changed(self, request: Request, action: str, *, internal: bool = False) -> None:
        request_changed.send(request, action=action, work=self.work, internal=internal)


def _retried(earlier: Request | None, asked: Asked) -> Request:
    """``earlier``, the request raised with the key of a create that ``asked``, when
    this is a retry of that create; refused when it asks for something else."""
    if earlier is None:
        raise RuntimeError("the idempotency key's index refused a request nobody holds")
    differing = asked.differences(earlier)
    if differing:
        raise IdempotencyKeyReused(earlier.number, differing)
    return earlier


def _agrees(request: Request, readings: tuple[ClockReading, ClockReading]) -> bool:
    """Whether ``request`` stores what ``readings`` found: states and moments."""
    return all(
        (
            getattr(request, f"{r.name}_state") == r.state
            and getattr(request, f"{r.name}_due_at") == r.due
            and getattr(request, f"{r.name}_at_risk_at") == r.at_risk_at
        )
        for r in readings
    )


def _may_have_paused(request: Request) -> bool:
    """Pauses are only ever added by a status change, which moves the clocks and so bumps
    ``clock_version`` in the same transaction: a request still at version 0 has none,
    and a page of new requests needs no query for pauses."""
    return request.clock_version != 0


def _freeze_sla(request: Request, decision: SlaDecision) -> None:
    sla, calendar = decision.sla, decision.calendar
    request.sla_id, request.sla_name = sla.id, sla.name
    request.sla_source, request.sla_reason = decision.source, decision.reason[:300]
    request.sla_terms = {
        "targets": sla.targets,
        "pausing_statuses": list(sla.pausing_statuses),
        "calendar": {"id": calendar.id, "name": calendar.name},
    }
    request.sla_calendar = calendar.definition


def _check_subject(subject: str) -> str:
    """The subject as stored: trimmed, and never blank (a list of blank lines helps nobody)."""
    if not subject.strip():
        raise ValidationFailed(errors={"subject": ["must not be blank"]})
    return subject.strip()


def _lookup(
    errors: dict[str, list[str]], field: str, getter: Any, object_id: str, *more: Any
) -> Any:
    """Body references to missing or foreign objects are invalid fields, not 404s."""
    try:
        return getter(object_id, *more)
    except NotFound:
        errors[field] = [f"no such {field.removesuffix('_id')} in this account"]
        return None


def _lookup_or_raise(field: str, getter: Any, object_id: str) -> Any:
    errors: dict[str, list[str]] = {}
    found = _lookup(errors, field, getter, object_id)
    if errors:
        raise ValidationFailed(errors=errors)
    return found
