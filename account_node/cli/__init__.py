"""The ``trustdesk`` command line (also ``python -m account_node``).

Commands that change data name the person they act as (``--as EMAIL``), who must be an
admin of the account: the audit log never records an anonymous change.

One module per command group; each registers its commands on ``main`` (``group.py``) when
imported, and the shared helpers live in ``common.py``.
"""

from __future__ import annotations

# Imported for their effect: each module registers its commands on ``main``.
from account_node.cli import (  # noqa: F401
    accounts,
    audit,
    db,
    keys,
    outbox,
    running,
    tokens,
    trusts,
)
from account_node.cli.group import main

__all__ = ["main"]
