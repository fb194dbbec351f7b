"""Writes that must outlive a unit of work that rolls back.

A request's writes are all or nothing: an error answer rolls everything back. A few
facts are true whatever the answer, and must stay: that a signed federation call's
nonce was seen (else a call refused for being, say, an illegal transition could be
replayed once the request's state has moved on). What makes such a write registers it
with ``keep_on_rollback``; ``rollback_keeping`` rolls back, then makes the kept writes
again in a transaction of their own. A kept write must be idempotent: the unit of work
may have committed part of itself before it failed (``commit_now``).

A few writes are made last (``write_last``): at the unit of work's commit, or after its
rollback with the kept writes. On SQLite a write holds the file's one write lock until
the commit, so a unit of work that wrote and then called a peer hosted on the same node
would keep that peer from writing its side (the call's nonce) until the call timed out.
Bookkeeping that is true whatever the answer, such as when a token was last used, is
therefore written last and takes no lock while the unit of work runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

KEPT = "trustdesk.kept_on_rollback"
LAST = "trustdesk.written_last"

KeptWrite = Callable[[Any], None]  # called with the session


def keep_on_rollback(session: Any, write: KeptWrite) -> None:
    session.info.setdefault(KEPT, []).append(write)


def write_last(session: Any, write: KeptWrite) -> None:
    """Make ``write`` as the unit of work ends, whatever its answer (see the module's
    docstring). Like a kept write, it must be idempotent."""
    session.info.setdefault(LAST, []).append(write)


@event.listens_for(Session, "before_commit")
def _write_last(session: Session) -> None:
    for write in session.info.pop(LAST, ()):
        write(session)


def rollback_keeping(session: Any) -> None:
    """Roll ``session`` back, then make and commit the writes registered to be kept
    and those to be written last."""
    kept: list[KeptWrite] = [*session.info.pop(KEPT, []), *session.info.pop(LAST, [])]
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
