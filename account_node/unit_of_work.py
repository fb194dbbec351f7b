"""Writes that must outlive a unit of work that rolls back.

A request's writes are all or nothing: an error answer rolls everything back. A few
facts are true whatever the answer, and must stay: that a signed federation call's
nonce was seen (else a call refused for being, say, an illegal transition could be
replayed once the request's state has moved on). What makes such a write registers it
with ``keep_on_rollback``; ``rollback_keeping`` rolls back, then makes the kept writes
again in a transaction of their own. A kept write must be idempotent: the unit of work
may have committed part of itself before it failed (``commit_now``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

KEPT = "trustdesk.kept_on_rollback"

KeptWrite = Callable[[Any], None]  # called with the session


def keep_on_rollback(session: Any, write: KeptWrite) -> None:
    session.info.setdefault(KEPT, []).append(write)


def rollback_keeping(session: Any) -> None:
    """Roll ``session`` back, then make and commit the writes registered to be kept."""
    kept: list[KeptWrite] = session.info.pop(KEPT, [])
    session.rollback()
    if not kept:
        return
    try:
        for write in kept:
            write(session)
        session.commit()
    except Exception:  # the answer is already an error; never make it a different one
        session.rollback()
        log.exception("a write kept past a rollback failed")


def forget_kept(session: Any) -> None:
    """After a commit: what was kept is written with the rest."""
    session.info.pop(KEPT, None)
