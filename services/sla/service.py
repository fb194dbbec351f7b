"""Calendars, SLA terms and requester-level overrides: validated, audited configuration.

Changing any of these never rewrites running requests: each request froze the terms and
calendar that applied when it was raised (see services/requests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from account_node.context import Work
from account_node.errors import ValidationFailed
from account_node.identity.store import PeopleStore
from account_node.pagination import Page
from services.sla.calendar import Calendar, CalendarError, NoBusinessHours
from services.sla.clock import due_at, elapsed
from services.sla.errors import CalendarInUse, HeldForTrust
from services.sla.models import DEFAULT_PAUSING, PRIORITIES, BusinessCalendar, RequesterSla, Sla
from services.sla.store import CalendarStore, RequesterSlaStore, SlaStore

# Open statuses a clock may stand still in (final ones stop it anyway, `new` never pauses).
PAUSABLE = ("assigned", "in_progress", "waiting_for_customer")
MAX_TARGET_MINUTES = 366 * 24 * 60
PREVIEW_SPAN = timedelta(days=3660)


def parse_calendar(
    definition: Any, prefix: str = "definition", *, stored: bool = False
) -> Calendar:
    """``definition`` as a calendar with business hours, or a 422 naming its fields
    under ``prefix``; ``stored``: accepted before, by this node or a provider's
    (``Calendar.from_dict``)."""
    try:
        calendar = Calendar.from_dict(definition, stored=stored)
    except CalendarError as exc:
        raise ValidationFailed(
            "The calendar is invalid",
            errors={f"{prefix}.{field}": msgs for field, msgs in exc.errors.items()},
        ) from exc
    if calendar.standard_week_us == 0:
        raise ValidationFailed(errors={f"{prefix}.weekly": ["a calendar needs business hours"]})
    return calendar


def minutes_ahead(calendar: Calendar, now: datetime) -> int:
    """The business minutes ``calendar`` holds in the ten years from ``now``."""
    try:
        horizon = now + PREVIEW_SPAN
    except OverflowError:
        horizon = datetime.max.replace(tzinfo=UTC)
    return int(elapsed(calendar, now, horizon).total_seconds() // 60)


def out_of_reach(
    targets: dict[str, dict[str, int]], calendar: Calendar, now: datetime
) -> tuple[int, list[tuple[str, str, int]]]:
    """The business minutes ``calendar`` holds in the next ten years, and the targets
    (priority, clock, minutes) longer than that.

    A request raised now under such a target would not fall due within ten years, as
    far as a due moment is looked for: a year of business minutes on a calendar open a
    minute a week ends in the year 12000, and holidays can close the years ahead. Such
    terms are refused where targets meet a calendar (an SLA saved, its calendar edited);
    a request's clock that still finds no due moment later never falls due
    (``services.requests.clocks``)."""
    ahead = minutes_ahead(calendar, now)
    return ahead, [
        (priority, clock, minutes)
        for priority, terms in targets.items()
        for clock, minutes in terms.items()
        if minutes > ahead
    ]


def _name(name: str, field: str = "name") -> str:
    if not (name or "").strip():
        raise ValidationFailed(errors={field: ["must not be empty"]})
    return name.strip()


class Calendars:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = CalendarStore(work.session, work.scope)

    def get(self, calendar_id: str) -> BusinessCalendar:
        return self.store.get(calendar_id)

    def page(self, cursor: str | None, limit: int) -> Page[BusinessCalendar]:
        return self.store.page(cursor, limit)

    def create(self, name: str, definition: dict[str, Any]) -> BusinessCalendar:
        name = self._unique(_name(name))
        calendar = BusinessCalendar(
            name=name,
            definition=parse_calendar(definition).to_dict(),
            created_at=self.work.clock.now(),
        )
        self.store.add(calendar)
        self.work.record(
            "calendar.create", "calendar", calendar.id, after={"name": name, **calendar.definition}
        )
        return calendar

    def update(self, calendar_id: str, **changes: Any) -> BusinessCalendar:
        calendar = _not_held(self.store.get(calendar_id), "calendar")
        before = {"name": calendar.name, **calendar.definition}
        if "name" in changes and _name(changes["name"]) != calendar.name:
            calendar.name = self._unique(_name(changes["name"]))
        if "definition" in changes:
            parsed = parse_calendar(changes["definition"])
            self._check_slas_fit(calendar, parsed)
            calendar.definition = parsed.to_dict()
        self.store.session.flush()
        after = {"name": calendar.name, **calendar.definition}
        self.work.record("calendar.update", "calendar", calendar.id, before, after)
        return calendar

    def _check_slas_fit(self, calendar: BusinessCalendar, parsed: Calendar) -> None:
        """The SLAs on ``calendar`` must still fall due on its new definition."""
        slas = self.store.slas_of(calendar.id)
        if not slas:
            return
        ahead = minutes_ahead(parsed, self.work.clock.now())
        longest = {sla.name: max(t["resolution"] for t in sla.targets.values()) for sla in slas}
        over = sorted(name for name, minutes in longest.items() if minutes > ahead)
        if over:
            raise ValidationFailed(
                errors={
                    "definition": [
                        f"SLA {name} has a target of {longest[name]} business minutes; this "
                        f"calendar holds {ahead} in the next ten years"
                        for name in over
                    ]
                }
            )

    def delete(self, calendar_id: str) -> None:
        calendar = _not_held(self.store.get(calendar_id), "calendar")
        if self.store.slas_using(calendar.id):
            raise CalendarInUse(f"calendar {calendar.name} is used by an SLA")
        self.store.session.delete(calendar)
        self.store.session.flush()
        self.work.record("calendar.delete", "calendar", calendar_id, before={"name": calendar.name})

    def _unique(self, name: str) -> str:
        if self.store.by_name(name):
            raise ValidationFailed(errors={"name": ["a calendar with this name already exists"]})
        return name

    def hold(
        self, trust_id: str, remote_id: str, name: str, definition: dict[str, Any]
    ) -> BusinessCalendar:
        """A provider's calendar held for a trust: created, or brought up to its new terms."""
        # The provider's node accepted it: an older release took zones and subdivisions
        # that input may no longer name, and its offerings must still be held.
        definition = parse_calendar(definition, prefix="calendar", stored=True).to_dict()
        calendar = self.store.held(trust_id, remote_id)
        if calendar is None:
            calendar = BusinessCalendar(
                name=self.store.free_name(_name(name)),
                definition=definition,
                created_at=self.work.clock.now(),
                provided_by=trust_id,
                remote_id=remote_id,
            )
            self.store.add(calendar)
            self.work.record(
                "calendar.hold", "calendar", calendar.id, after={"trust": trust_id, **definition}
            )
        elif calendar.definition != definition:
            before = dict(calendar.definition)
            calendar.definition = definition
            self.store.session.flush()
            self.work.record("calendar.hold", "calendar", calendar.id, before, definition)
        return calendar  # type: ignore[no-any-return]


def _not_held(row: Any, noun: str) -> Any:
    if row.provided_by:
        raise HeldForTrust(
            f"this {noun} holds the terms of trust {row.provided_by}; "
            "only the provider's next signed offering changes it"
        )
    return row


def preview(
    definition: dict[str, Any],
    start: datetime,
    pauses: list[tuple[datetime, datetime]],
    seconds: int | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """Try a calendar without saving it: a due moment, or the business time in a span."""
    calendar = parse_calendar(definition, prefix="calendar")
    if (seconds is None) == (end is None):
        raise ValidationFailed(errors={"seconds": ["give either seconds or end"]})
    if end is not None and end < start:
        raise ValidationFailed(errors={"end": ["must not be before start"]})
    if end is not None and end - start > PREVIEW_SPAN:
        raise ValidationFailed(errors={"end": ["a preview spans at most ten years"]})
    reversed_pauses = {
        f"pauses[{i}]": ["a pause must not end before it begins"]
        for i, (begin, finish) in enumerate(pauses)
        if finish < begin
    }
    if reversed_pauses:
        raise ValidationFailed(errors=reversed_pauses)
    if seconds is not None and seconds < 0:
        raise ValidationFailed(errors={"seconds": ["must not be negative"]})
    where = "seconds" if seconds is not None else "end"
    try:
        if seconds is not None:
            _within_span(calendar, start, seconds, pauses)
            return {"due": due_at(calendar, start, timedelta(seconds=seconds), pauses)}
        assert end is not None
        return {"business_seconds": int(elapsed(calendar, start, end, pauses).total_seconds())}
    except NoBusinessHours as exc:
        raise ValidationFailed(errors={where: [f"no due moment: {exc}"]}) from exc
    except (OverflowError, ValueError) as exc:
        # Dates run from the year 1 to 9999 (Python's datetime.MINYEAR and MAXYEAR), and so
        # does business time; which end was reached is not known here, so name both.
        raise ValidationFailed(
            errors={where: ["reaches outside the years 1 to 9999, where dates begin and end"]}
        ) from exc


def _within_span(
    calendar: Calendar, start: datetime, seconds: int, pauses: list[tuple[datetime, datetime]]
) -> None:
    """A due moment is looked for within ten years of the start, as a span is: the
    search costs a little per day it crosses, and a budget of years on a calendar of a
    minute a week would walk millennia (ten seconds of a node's worker, for any person
    signed in). Past them: a 422, with the business time those years hold."""
    try:
        horizon = start + PREVIEW_SPAN
    except OverflowError:
        return  # within ten years of the last date there is: no millennia to walk
    held = elapsed(calendar, start, horizon, pauses)
    if timedelta(0) < held < timedelta(seconds=seconds):  # none at all: due_at says why
        raise ValidationFailed(
            errors={
                "seconds": [
                    "the budget does not run out within ten years of the start: they hold "
                    f"{int(held.total_seconds())} business seconds of this calendar"
                ]
            }
        )


def check_targets(targets: Any) -> dict[str, dict[str, int]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(targets, dict):
        raise ValidationFailed(errors={"targets": ["must map p1..p4 to response and resolution"]})
    for priority in PRIORITIES:
        terms = targets.get(priority)
        where = f"targets.{priority}"
        if not isinstance(terms, dict) or set(terms) != {"response", "resolution"}:
            errors[where] = ["needs exactly response and resolution, in business minutes"]
            continue
        values = [terms["response"], terms["resolution"]]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
            errors[where] = ["targets are positive whole minutes"]
        elif max(values) > MAX_TARGET_MINUTES:
            errors[where] = [f"targets are at most {MAX_TARGET_MINUTES} minutes (a year)"]
        elif values[0] > values[1]:
            errors[where] = ["the response target cannot be longer than the resolution target"]
    extra = sorted(set(targets) - set(PRIORITIES))
    if extra:
        errors["targets"] = [f"unknown priorities {', '.join(extra)}"]
    if errors:
        raise ValidationFailed(errors=errors)
    return {
        p: {"response": targets[p]["response"], "resolution": targets[p]["resolution"]}
        for p in PRIORITIES
    }


def sla_snapshot(sla: Sla) -> dict[str, Any]:
    return {
        "name": sla.name,
        "calendar_id": sla.calendar_id,
        "targets": sla.targets,
        "pausing_statuses": sla.pausing_statuses,
    }


class Slas:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = SlaStore(work.session, work.scope)

    def get(self, sla_id: str) -> Sla:
        return self.store.get(sla_id)

    def find(self, sla_id: str | None) -> Sla | None:
        return self.store.find(sla_id)

    def page(self, cursor: str | None, limit: int) -> Page[Sla]:
        return self.store.page(cursor, limit)

    def create(
        self,
        name: str,
        calendar_id: str,
        targets: dict[str, Any],
        pausing_statuses: list[str] | None = None,
    ) -> Sla:
        name = _name(name)
        if self.store.by_name(name):
            raise ValidationFailed(errors={"name": ["an SLA with this name already exists"]})
        checked = check_targets(targets)
        sla = Sla(
            name=name,
            calendar_id=self._calendar(calendar_id, checked),
            targets=checked,
            pausing_statuses=_pausing(
                DEFAULT_PAUSING if pausing_statuses is None else pausing_statuses
            ),
            created_at=self.work.clock.now(),
        )
        self.store.add(sla)
        self.work.record("sla.create", "sla", sla.id, after=sla_snapshot(sla))
        return sla

    def update(self, sla_id: str, **changes: Any) -> Sla:
        sla = _not_held(self.store.get(sla_id), "SLA")
        before = sla_snapshot(sla)
        if "name" in changes and _name(changes["name"]) != sla.name:
            name = _name(changes["name"])
            if self.store.by_name(name):
                raise ValidationFailed(errors={"name": ["an SLA with this name already exists"]})
            sla.name = name
        if "targets" in changes:
            sla.targets = check_targets(changes["targets"])
        if "calendar_id" in changes or "targets" in changes:
            sla.calendar_id = self._calendar(
                changes.get("calendar_id", sla.calendar_id), sla.targets
            )
        if "pausing_statuses" in changes:
            sla.pausing_statuses = _pausing(changes["pausing_statuses"])
        self.store.session.flush()
        self.work.record("sla.update", "sla", sla.id, before, sla_snapshot(sla))
        return sla

    def hold(
        self,
        trust_id: str,
        remote_id: str,
        name: str,
        calendar_id: str,
        targets: dict[str, Any],
        pausing_statuses: list[str],
    ) -> Sla:
        """A provider's SLA terms held for a trust: created, or brought up to date."""
        targets, pausing = check_targets(targets), _pausing(pausing_statuses)
        sla = self.store.held(trust_id, remote_id)
        if sla is None:
            sla = Sla(
                name=self.store.free_name(_name(name)),
                calendar_id=calendar_id,
                targets=targets,
                pausing_statuses=pausing,
                created_at=self.work.clock.now(),
                provided_by=trust_id,
                remote_id=remote_id,
            )
            self.store.add(sla)
            self.work.record("sla.hold", "sla", sla.id, after=sla_snapshot(sla))
        elif (sla.calendar_id, sla.targets, sla.pausing_statuses) != (
            calendar_id,
            targets,
            pausing,
        ):
            before = sla_snapshot(sla)
            sla.calendar_id, sla.targets, sla.pausing_statuses = calendar_id, targets, pausing
            self.store.session.flush()
            self.work.record("sla.hold", "sla", sla.id, before, sla_snapshot(sla))
        return sla  # type: ignore[no-any-return]

    def _calendar(self, calendar_id: str, targets: dict[str, dict[str, int]]) -> str:
        """``calendar_id``, a calendar of this account on which ``targets`` fall due."""
        calendar = CalendarStore(self.work.session, self.work.scope).find(calendar_id)
        if calendar is None:
            raise ValidationFailed(errors={"calendar_id": ["no such calendar in this account"]})
        ahead, over = out_of_reach(
            targets, Calendar.from_dict(calendar.definition, stored=True), self.work.clock.now()
        )
        if over:
            raise ValidationFailed(
                errors={
                    f"targets.{priority}.{clock}": [
                        f"{minutes} business minutes do not run out within ten years on "
                        f"calendar {calendar.name}, which holds {ahead} in them"
                    ]
                    for priority, clock, minutes in over
                }
            )
        return calendar_id


def _pausing(statuses: list[str]) -> list[str]:
    wrong = sorted(set(statuses) - set(PAUSABLE))
    if wrong:
        raise ValidationFailed(
            errors={
                "pausing_statuses": [
                    f"cannot pause in {', '.join(wrong)}; choose from {', '.join(PAUSABLE)}"
                ]
            }
        )
    return sorted(set(statuses))


class RequesterSlas:
    """User-level overrides. A person in several groups gets the first group by label
    (alphabetically), so the choice is deterministic and can be explained."""

    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = RequesterSlaStore(work.session, work.scope)

    def get(self, group_id: str) -> RequesterSla:
        return self.store.get(group_id)

    def page(self, cursor: str | None, limit: int) -> Page[RequesterSla]:
        return self.store.page(cursor, limit)

    def for_person(self, person_id: str) -> RequesterSla | None:
        return next((g for g in self.store.all_by_label() if person_id in g.person_ids), None)

    def create(self, label: str, sla_id: str, person_ids: list[str]) -> RequesterSla:
        label = _name(label, "label")
        if self.store.by_label(label):
            raise ValidationFailed(errors={"label": ["an override with this label already exists"]})
        group = RequesterSla(
            label=label,
            sla_id=self._sla(sla_id),
            person_ids=self._people(person_ids),
            created_at=self.work.clock.now(),
        )
        self.store.add(group)
        self.work.record("requester_sla.create", "requester_sla", group.id, after=_group(group))
        return group

    def update(self, group_id: str, **changes: Any) -> RequesterSla:
        group = self.store.get(group_id)
        before = _group(group)
        if "label" in changes and _name(changes["label"], "label") != group.label:
            label = _name(changes["label"], "label")
            if self.store.by_label(label):
                raise ValidationFailed(
                    errors={"label": ["an override with this label already exists"]}
                )
            group.label = label
        if "sla_id" in changes:
            group.sla_id = self._sla(changes["sla_id"])
        if "person_ids" in changes:
            group.person_ids = self._people(changes["person_ids"])
        self.store.session.flush()
        self.work.record("requester_sla.update", "requester_sla", group.id, before, _group(group))
        return group

    def delete(self, group_id: str) -> None:
        group = self.store.get(group_id)
        before = _group(group)
        self.store.session.delete(group)
        self.store.session.flush()
        self.work.record("requester_sla.delete", "requester_sla", group_id, before=before)

    def _sla(self, sla_id: str) -> str:
        if SlaStore(self.work.session, self.work.scope).find(sla_id) is None:
            raise ValidationFailed(errors={"sla_id": ["no such SLA in this account"]})
        return sla_id

    def _people(self, person_ids: list[str]) -> list[str]:
        people = PeopleStore(self.work.session, self.work.scope)
        unknown = [p for p in person_ids if people.find(p) is None]
        if unknown:
            raise ValidationFailed(
                errors={"person_ids": [f"not people of this account: {', '.join(unknown)}"]}
            )
        return sorted(set(person_ids))


def _group(group: RequesterSla) -> dict[str, Any]:
    return {"label": group.label, "sla_id": group.sla_id, "person_ids": group.person_ids}
