"""What a trusting node shares about a request, checked on arrival as untrusted input."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from account_node.http import CURSOR, Instant

# Ids and states go into this node's links (/trusts/<trust>/requests/<id>) and forms: a
# token, as ids are, so that no ``/`` or ``..`` in a peer's answer can point a link at
# another of our pages.
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
token_id = validate.Regexp(TOKEN, error="must be 1 to 64 letters, digits, - or _")
_text = validate.Length(max=300)
# A clock's minutes and seconds: never negative, and below 2**31 (68 years of seconds).
# A peer's -5 or a 300-digit count is not a reading, whatever its type.
COUNT = validate.Range(min=0, max=2**31 - 1)


class _Clock(Schema):
    class Meta:
        unknown = EXCLUDE

    target_minutes = fields.Integer(required=True, strict=True, validate=COUNT)
    due = Instant(required=True)
    at_risk_at = Instant(required=True)
    used_seconds = fields.Integer(required=True, strict=True, validate=COUNT)
    state = fields.String(
        required=True, validate=validate.OneOf(["on_track", "at_risk", "breached", "met"])
    )
    stopped_at = Instant(allow_none=True, load_default=None)
    paused = fields.Boolean(required=True)


class _Pause(Schema):
    class Meta:
        unknown = EXCLUDE

    began_at = Instant(required=True)
    ended_at = Instant(allow_none=True, load_default=None)
    status = fields.String(required=True, validate=token_id)


class _Sla(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(max=120))
    source = fields.String(required=True, validate=validate.Length(max=20))
    reason = fields.String(required=True, validate=_text)
    response = fields.Nested(_Clock, required=True)
    resolution = fields.Nested(_Clock, required=True)
    pauses = fields.List(fields.Nested(_Pause), load_default=list)


class SharedEvent(Schema):
    class Meta:
        unknown = EXCLUDE

    seq = fields.Integer(required=True, strict=True)
    at = Instant(required=True)
    kind = fields.String(required=True, validate=validate.Length(max=20))
    public = fields.Boolean(required=True)
    actor = fields.String(required=True, validate=validate.Length(max=254))
    vouched_by = fields.String(allow_none=True, load_default=None, validate=_text)
    body = fields.String(load_default="", validate=validate.Length(max=20_000))
    # What changed (``from``/``to``, a ``clock``, a team or person id): short texts under
    # short names. Pages render them (``label``), so a number or a nested object from a
    # peer would break the page, not just look odd.
    data = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=fields.String(allow_none=True, validate=_text),
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=10),
    )


class SharedRequest(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String(required=True, validate=token_id)
    reference = fields.String(required=True, validate=validate.Length(max=40))
    subject = fields.String(required=True, validate=validate.Length(max=200))
    status = fields.String(required=True, validate=validate.Length(max=24))
    priority = fields.String(required=True, validate=validate.OneOf(["p1", "p2", "p3", "p4"]))
    offering = fields.String(required=True, validate=token_id)
    offering_name = fields.String(required=True, validate=validate.Length(max=120))
    requester = fields.String(required=True, validate=validate.Length(max=200))
    created_at = Instant(required=True)
    updated_at = Instant(required=True)
    urgency_at = Instant(required=True)
    allowed_transitions = fields.List(fields.String(validate=token_id), load_default=list)
    sla = fields.Nested(_Sla, required=True)


class SharedRequestDetail(SharedRequest):
    description = fields.String(load_default="", validate=validate.Length(max=100_000))
    timeline = fields.List(fields.Nested(SharedEvent), load_default=list)


class SharedPage(Schema):
    class Meta:
        unknown = EXCLUDE

    items = fields.List(fields.Nested(SharedRequest), required=True)
    next_cursor = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=512)
    )


# --- bodies of the visibility calls and of the MSP's own REST paths --------------------


class NoteIn(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    public = fields.Boolean(load_default=True)
    actor_name = fields.String(validate=validate.Length(max=254))


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.Length(min=1, max=24))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    actor_name = fields.String(validate=validate.Length(max=254))


class StatusPatch(Schema):
    status = fields.String(required=True, validate=validate.Length(min=1, max=24))
    status_reason = fields.String(load_default="", validate=validate.Length(max=2000))


class ListArgs(Schema):
    offering = fields.List(fields.String(validate=token_id), load_default=list)
    status = fields.List(fields.String(validate=validate.Length(max=24)), load_default=list)
    sla_state = fields.String(
        validate=validate.OneOf(["on_track", "at_risk", "breached", "met"]),
        metadata={
            "description": "the worse of the two clocks' states: breached, at_risk, on_track, met"
        },
    )
    q = fields.String(validate=validate.Length(max=200))
    sort = fields.String(load_default="urgency", validate=validate.OneOf(["urgency", "newest"]))
    cursor = fields.String(validate=CURSOR)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


# --- the list page, checked by hand: it is the inbox's hot path (20 nodes x 50 items), ----
# and the nested schemas above cost more than the rest of the page together. Same rules.

_STATES = frozenset({"on_track", "at_risk", "breached", "met"})
_PRIORITIES = frozenset({"p1", "p2", "p3", "p4"})
_TEXT = {"id": 64, "reference": 40, "subject": 200, "status": 24, "offering": 64,
         "offering_name": 120, "requester": 200}  # fmt: skip
_WHEN = ("created_at", "updated_at", "urgency_at")


class Invalid(ValueError):
    """A peer's answer that does not have the shape it must have."""


def _string(value: Any, limit: int, name: str) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{name} must be text of at most {limit} characters")
    return value


def _token(value: Any, name: str) -> str:
    if not isinstance(value, str) or not TOKEN.fullmatch(value):
        raise Invalid(f"{name} must be a token: letters, digits, - and _")
    return value


def _when(value: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{name} must be an ISO 8601 moment") from exc
    if moment.tzinfo is None:
        raise Invalid(f"{name} must carry its offset")
    try:  # 0001-01-01T00:00:00+01:00 parses, but its moment is in the year 0: no datetime's
        moment.astimezone(UTC)
    except OverflowError as exc:
        raise Invalid(f"{name} must fall within the years 1 to 9999 in UTC") from exc
    return moment


def _clock(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("state") not in _STATES:
        raise Invalid(f"{name} must be a clock with a known state")
    clock = {"state": value["state"], "paused": bool(value.get("paused"))}
    for key in ("due", "at_risk_at"):
        clock[key] = _when(value.get(key), f"{name}.{key}")
    stopped = value.get("stopped_at")
    clock["stopped_at"] = _when(stopped, f"{name}.stopped_at") if stopped is not None else None
    for key in ("target_minutes", "used_seconds"):
        number = value.get(key)
        if not isinstance(number, int) or isinstance(number, bool):
            raise Invalid(f"{name}.{key} must be an integer")
        if not COUNT.min <= number <= COUNT.max:  # type: ignore[operator]
            raise Invalid(f"{name}.{key} must be a count from 0 to {COUNT.max}")
        clock[key] = number
    return clock


def check_shared_page(
    answer: Any, limit: int = 200, offerings: Collection[str] | None = None
) -> dict[str, Any]:
    """A trusting node's list page, validated and with its moments parsed. Each request
    appears once, and on one of ``offerings`` (those asked for), if given: a request of
    another offering is routed to other people here, whatever the peer sends."""
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise Invalid("the page must have items")
    if len(answer["items"]) > limit:
        raise Invalid("the page has more items than were asked for")
    items = []
    seen: set[str] = set()
    for raw in answer["items"]:
        if not isinstance(raw, dict):
            raise Invalid("an item must be an object")
        item: dict[str, Any] = {k: _string(raw.get(k), n, k) for k, n in _TEXT.items()}
        if not (TOKEN.fullmatch(item["id"]) and TOKEN.fullmatch(item["offering"])):
            raise Invalid("id and offering must be ids: letters, digits, - and _")
        if offerings is not None and item["offering"] not in offerings:
            raise Invalid("the page holds a request of an offering that was not asked for")
        if item["id"] in seen:
            raise Invalid("the page holds a request twice")
        seen.add(item["id"])
        if raw.get("priority") not in _PRIORITIES:
            raise Invalid("priority must be p1 to p4")
        item["priority"] = raw["priority"]
        item.update({k: _when(raw.get(k), k) for k in _WHEN})
        transitions = raw.get("allowed_transitions", [])
        if not isinstance(transitions, list):
            raise Invalid("allowed_transitions must be a list")
        item["allowed_transitions"] = [_token(t, "transition") for t in transitions[:10]]
        sla = raw.get("sla")
        if not isinstance(sla, dict):
            raise Invalid("sla must be an object")
        item["sla"] = {
            "name": _string(sla.get("name"), 120, "sla.name"),
            "source": _string(sla.get("source"), 20, "sla.source"),
            "reason": _string(sla.get("reason"), 300, "sla.reason"),
            "response": _clock(sla.get("response"), "sla.response"),
            "resolution": _clock(sla.get("resolution"), "sla.resolution"),
        }
        items.append(item)
    cursor = answer.get("next_cursor")
    if cursor is not None:
        _string(cursor, 512, "next_cursor")
    return {"items": items, "next_cursor": cursor}
