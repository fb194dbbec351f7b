"""Imports every package's models so metadata is complete (migrations, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "account_node.identity.models",
    "account_node.audit.models",
    "trust.models",
    "services.sla.models",
    "services.catalog.models",
    "services.offerings.models",
    "services.cmdb.models",
    "services.requests.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
