"""Configuration items in a parent/child tree; a CI without an SLA inherits its parent's.

Who sees what: admins, specialists and auditors see all of the account's CIs; anyone else
sees the CIs they own (to pick one when raising a request). A CI outside that view is as
absent as one that does not exist, wherever it is named: read by id, or given as a field.
"""

from __future__ import annotations

from typing import Any

from account_node.context import Work
from account_node.errors import ValidationFailed
from account_node.identity.store import PeopleStore
from account_node.pagination import Page
from services.cmdb.errors import CiNotFound
from services.cmdb.models import CI_STATUSES, ConfigurationItem
from services.cmdb.store import CiStore
from services.sla.service import Slas

MAX_DEPTH = 64  # deeper trees are refused; it also bounds every walk up the tree
SEE_ALL = frozenset({"admin", "specialist", "auditor"})


def snapshot(ci: ConfigurationItem) -> dict[str, Any]:
    return {
        name: getattr(ci, name)
        for name in ("type", "name", "owner_id", "status", "parent_id", "sla_id")
    }


class Cmdb:
    def __init__(self, work: Work) -> None:
        self.work = work
        self.store = CiStore(work.session, work.scope)

    def get(self, ci_id: str) -> ConfigurationItem:
        """Any CI of the account, whoever asks (for the service's own rules)."""
        return self.store.get(ci_id)

    def page(self, cursor: str | None, limit: int, **filters: Any) -> Page[ConfigurationItem]:
        return self.store.filtered(cursor, limit, **filters)

    # --- what the caller sees ------------------------------------------------------------

    @property
    def sees_all(self) -> bool:
        return bool(self.work.roles & SEE_ALL)

    def visible(self, ci_id: str) -> ConfigurationItem:
        """The CI if the caller may see it; else ``CiNotFound``, as for an unknown id."""
        ci = self.store.get(ci_id)
        if not self.sees_all and ci.owner_id != self.work.actor.person_id:
            raise CiNotFound(f"ci {ci_id} not found")
        return ci

    def visible_page(
        self, cursor: str | None, limit: int, **filters: Any
    ) -> Page[ConfigurationItem]:
        """A page of the CIs the caller may see, with ``filters`` on top."""
        if not self.sees_all:
            filters["owner_id"] = self.work.actor.person_id
        return self.page(cursor, limit, **filters)

    def effective_sla(self, ci: ConfigurationItem) -> tuple[str | None, ConfigurationItem | None]:
        """The SLA of ``ci`` or of its nearest ancestor that has one, and that CI."""
        current: ConfigurationItem | None = ci
        for _ in range(MAX_DEPTH):
            if current is None:
                return None, None
            if current.sla_id:
                return current.sla_id, current
            current = self.store.find(current.parent_id) if current.parent_id else None
        return None, None

    def create(self, **fields: Any) -> ConfigurationItem:
        fields.setdefault("status", "active")
        self._check(None, fields)
        ci = ConfigurationItem(**fields, created_at=self.work.clock.now())
        self.store.add(ci)
        self.work.record("ci.create", "ci", ci.id, after=snapshot(ci))
        return ci

    def update(self, ci_id: str, **changes: Any) -> ConfigurationItem:
        ci = self.store.get(ci_id)
        before = snapshot(ci)
        self._check(ci, changes)
        for name, value in changes.items():
            setattr(ci, name, value)
        self.store.session.flush()
        self.work.record("ci.update", "ci", ci.id, before, snapshot(ci))
        return ci

    def _check(self, ci: ConfigurationItem | None, fields: dict[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        if "name" in fields:
            name = fields["name"] = (fields["name"] or "").strip()
            if not name:
                errors["name"] = ["must not be empty"]
            elif (ci is None or name != ci.name) and self.store.by_name(name):
                errors["name"] = ["a configuration item with this name already exists"]
        if fields.get("status") is not None and fields["status"] not in CI_STATUSES:
            errors["status"] = [f"must be one of {', '.join(CI_STATUSES)}"]
        if (
            fields.get("owner_id")
            and PeopleStore(self.work.session, self.work.scope).find(fields["owner_id"]) is None
        ):
            errors["owner_id"] = ["no such person in this account"]
        if fields.get("sla_id") and Slas(self.work).find(fields["sla_id"]) is None:
            errors["sla_id"] = ["no such SLA in this account"]
        if fields.get("parent_id"):
            problem = self._parent_problem(ci, fields["parent_id"])
            if problem:
                errors["parent_id"] = [problem]
        if errors:
            raise ValidationFailed(errors=errors)

    def _parent_problem(self, ci: ConfigurationItem | None, parent_id: str) -> str | None:
        """Why ``ci`` (None: a new one) cannot go under ``parent_id``, if it cannot: the
        parent is unknown, is the item or one of its descendants, or the tree would grow
        deeper than ``MAX_DEPTH`` with the item's own subtree hung below the parent."""
        parent = self.store.find(parent_id)
        if parent is None:
            return "no such configuration item in this account"
        below = self._height(ci) if ci is not None else 1
        for _ in range(MAX_DEPTH - below):
            if ci is not None and parent.id == ci.id:
                return "would make the item its own ancestor"
            if not parent.parent_id:
                return None
            found = self.store.find(parent.parent_id)
            if found is None:
                return None
            parent = found
        return f"the tree would be deeper than {MAX_DEPTH} levels"

    def _height(self, ci: ConfigurationItem) -> int:
        """Levels of the subtree ``ci`` heads (1: no children), counted up to ``MAX_DEPTH``
        (a query per level, only when an item moves)."""
        level, height = [ci.id], 0
        while level and height < MAX_DEPTH:
            height += 1
            level = self.store.children_of(level)
        return height
