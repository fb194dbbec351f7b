"""Queries for configuration items inside one account scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from account_node.pagination import Page
from account_node.tenancy import ScopedStore
from services.cmdb.errors import CiNotFound
from services.cmdb.models import ConfigurationItem


class CiStore(ScopedStore[ConfigurationItem]):
    model = ConfigurationItem
    not_found = CiNotFound

    def by_name(self, name: str) -> ConfigurationItem | None:
        query = select(ConfigurationItem).where(ConfigurationItem.name == name)
        return self.session.scalars(query).first()

    def children_of(self, parent_ids: list[str]) -> list[str]:
        query = select(ConfigurationItem.id).where(ConfigurationItem.parent_id.in_(parent_ids))
        return list(self.session.scalars(query))

    def filtered(self, cursor: str | None, limit: int, **filters: Any) -> Page[ConfigurationItem]:
        criteria = [
            getattr(ConfigurationItem, name) == value
            for name, value in filters.items()
            if value is not None
        ]
        return self.page(cursor, limit, *criteria)
