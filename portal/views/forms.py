"""Form plumbing: what was typed, what is wrong with it, next to which field.

Services answer bad input with ``ValidationFailed(errors={field: [...]})`` naming their
own fields (``service_id``, ``definition.weekly.mon``); a form maps those onto its inputs
so every message appears next to the field it is about, and keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import request

from account_node.errors import ValidationFailed

FORM = "_form"  # errors that belong to no single field


@dataclass
class Form:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def posted(cls, *names: str, lists: tuple[str, ...] = ()) -> Form:
        """The submitted fields, trimmed; ``lists`` are multi-valued (checkboxes, selects)."""
        values: dict[str, Any] = {n: (request.form.get(n) or "").strip() for n in names}
        for name in lists:
            values[name] = [v for v in request.form.getlist(name) if v]
        return cls(values)

    def get(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def require(self, *names: str) -> None:
        for name in names:
            if not self.values.get(name):
                self.add(name, "This field is required.")

    def longest(self, name: str, limit: int) -> None:
        if len(self.values.get(name) or "") > limit:
            self.add(name, f"At most {limit} characters.")

    def whole_number(self, name: str, *, low: int = 0, high: int | None = None) -> int | None:
        raw = self.values.get(name) or ""
        try:
            number = int(raw)
        except ValueError:
            self.add(name, "Enter a whole number.")
            return None
        if number < low or (high is not None and number > high):
            self.add(name, f"Enter a number from {low}" + (f" to {high}." if high else " up."))
            return None
        return number

    def moment(self, name: str, zone: ZoneInfo) -> datetime | None:
        """A ``datetime-local`` input read in the person's zone."""
        raw = self.values.get(name) or ""
        if not raw:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            self.add(name, "Enter a date and time, for example 2026-12-01T09:00.")
            return None
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
        try:  # late on 9999-12-31 west of UTC is already the year 10000 there
            moment.astimezone(UTC)
        except OverflowError:
            self.add(name, "Enter a date and time within the years 1 to 9999.")
            return None
        return moment

    def take(self, error: ValidationFailed, mapping: Mapping[str, str] | None = None) -> None:
        """Put a service's field errors next to this form's fields.

        ``mapping`` renames service fields to form fields; a service field starting with a
        mapped prefix (``definition.weekly.mon``) goes to that form field. Anything left
        is shown at the top of the form, so no message is ever lost.
        """
        mapping = mapping or {}
        if not error.errors:
            self.add(FORM, error.detail)
        for name, messages in error.errors.items():
            target = _target(name, mapping, self.values)
            for message in messages:
                self.add(target, message[:1].upper() + message[1:])

    @property
    def ok(self) -> bool:
        return not self.errors


def _target(name: str, mapping: Mapping[str, str], values: Mapping[str, Any]) -> str:
    if name in mapping:
        return mapping[name]
    best = max((p for p in mapping if name.startswith((p + ".", p + "["))), key=len, default=None)
    if best is not None:
        return mapping[best]
    return name if name in values else FORM
