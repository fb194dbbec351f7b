"""SLA jobs: check a request's clocks at its at-risk and due moments; sweep periodically.

Thin and idempotent (STYLE 9): they take ids, reload state and call the service. The
work is done as the node's SLA monitor, named in the timeline and the audit log as such:
a state change found by the clock is a fact the node observed, not a person's action.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.identity.accounts import active_account_ids
from account_node.jobs import contained, then_next_run
from account_node.tenancy import AccountScope
from services.requests.schedule import schedule_checks_again
from services.requests.service import Requests

SWEEP = "services.requests.jobs.sweep_clocks"
BATCH = 500
# How long the sweep waits for a request's row (or the account's audit head) that
# someone else holds, before it leaves that request to its next run.
WAIT_FOR_LOCKS = text("SET LOCAL lock_timeout = '2s'")


def monitor_work(node: Any, account_id: str) -> Work:
    actor = Actor("node:sla-monitor", account_id, f"SLA monitor of node {node.settings.node_name}")
    return Work(
        db.session(),
        AccountScope(account_id),
        actor,
        node.clock,
        node.jobs,
        node.settings,
        roles=frozenset({"admin"}),
    )


def check_clocks(node: Any, account_id: str, request_id: str, version: int) -> None:
    Requests(monitor_work(node, account_id)).check_clocks(request_id, version)


def sweep_clocks(node: Any, reschedule: bool = True) -> int:
    """Check every open request of every active account; repairs checks never run.

    The database picks the requests whose stored clocks may be stale (a state whose
    moment passed, a paused clock), in batches; each is read again, and only one found
    stale is locked and refreshed, in a transaction of its own: a change records audit
    events, and the account's audit head must not wait for the rest of the sweep.

    Only active accounts, as the node's other sweeps: a deactivated account's requests
    are frozen, and the sweep wrote breaches and audit events into them."""
    changed = 0
    every = node.settings.sla_sweep_seconds
    with then_next_run(node.jobs, node.clock, "sla", SWEEP, every, "sla-sweep", when=reschedule):
        for account_id in active_account_ids(db.session()):
            with contained(db.session(), "the SLA sweep", f"account {account_id}"):
                changed += _sweep_account(node, account_id)
    return changed


def _sweep_account(node: Any, account_id: str) -> int:
    changed = 0
    work = monitor_work(node, account_id)
    requests = Requests(work)
    after = None
    now = node.clock.now()
    while batch := requests.store.open_requests(after, BATCH, stale_at=now):
        after = batch[-1].id
        for request_id in [r.id for r in requests.stale(batch)]:
            with contained(work.session, "the SLA sweep", f"request {request_id}"):
                _wait_for_locks_briefly(work.session)
                changed += requests.refresh_clocks(request_id)
                schedule_checks_again(requests, request_id)
                work.session.commit()  # its row and the account's audit head: held briefly
        work.session.commit()
    return changed


def _wait_for_locks_briefly(session: Session) -> None:
    """Begin the request's transaction with a lock timeout (PostgreSQL; SQLite waits for
    its one write lock as configured): a row held elsewhere (a person's long edit, a
    stuck transaction) makes this request's refresh fail and wait for the next run,
    where it used to stall the sweep, and with it every account after this one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(WAIT_FOR_LOCKS)
