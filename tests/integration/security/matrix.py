"""The authorization matrix's vocabulary, and the collection of every slice's rules.

Each slice adds ``rules_<slice>.py`` beside this file with ``RULES`` (route → ``Rule``) and
``TARGETS`` (path parameter → a function that makes a fresh object in an account and
returns the ids it made). The matrix test merges them all.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = ("admin", "specialist", "end_user", "auditor")
EVERYONE = frozenset(ROLES)
READERS = frozenset({"admin", "specialist", "auditor"})
STAFF = frozenset({"admin", "specialist"})
ADMIN = frozenset({"admin"})
AUDIT = frozenset({"admin", "auditor"})
counter = itertools.count()

Ids = dict[str, str]
Target = Callable[[Any, Any, str, Ids], Ids]


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    ok: int
    body: Callable[[Ids], Any] | None = None
    # Public routes answer without a token; the rest answer 401 to anonymous callers.
    public: bool = False
    anonymous_status: int = 401
    # Routes naming an object by id: a foreign id must answer 404.
    by_id: bool = False
    # Ids the body needs besides the path's own parameters.
    needs: tuple[str, ...] = ()
    # What a role outside ``allowed`` gets (403 unless the route hides existence).
    denied: int = 403


def collect() -> tuple[dict[tuple[str, str], Rule], dict[str, Target]]:
    rules: dict[tuple[str, str], Rule] = {}
    targets: dict[str, Target] = {}
    here = Path(__file__).parent
    for module in pkgutil.iter_modules([str(here)]):
        if module.name.startswith("rules_"):
            loaded = importlib.import_module(f"tests.integration.security.{module.name}")
            overlap = set(rules) & set(loaded.RULES)
            assert not overlap, f"{module.name} repeats routes {overlap}"
            rules.update(loaded.RULES)
            targets.update(loaded.TARGETS)
    return rules, targets


PLACEHOLDER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def resolve(
    path: str, rule: Rule, targets: dict[str, Target], client, account, role
) -> tuple[str, Ids]:
    ids: Ids = {}
    for name in [*PLACEHOLDER.findall(path), *rule.needs]:
        if name not in ids:
            ids.update(targets[name](client, account, role, ids))
    url = PLACEHOLDER.sub(lambda m: ids[m.group(1)], path)
    return url, ids
