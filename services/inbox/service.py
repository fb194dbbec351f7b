"""Fan-out to every trusting node at once, each call bounded, merged by urgency.

The inbox asks each active trust where this account is the trusted side (only for the
offerings routed to the person's teams) concurrently, each call with its own timeout,
and adds this account's own open requests routed to those teams. Each source is reported
``ok``, ``unreachable`` (down, slow past its timeout, or an answer that did not validate)
or ``refused`` (the peer declined: e.g. it ended the trust), with its latency, so one
dead node costs at most its timeout and never hides the rest. Items are merged by the
moment their resolution SLA falls due, soonest first.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from account_node.context import Work
from account_node.identity.models import Account
from services.inbox.store import InboxStore
from services.requests.clocks import read_clocks
from services.requests.service import Requests
from services.requests.store import RequestFilter
from services.visibility.remote import Reach, TrustedRequests
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable
from trust.handshake import Handshake

OPEN = ("new", "assigned", "in_progress", "waiting_for_customer")
MAX_FANOUT = 32


@dataclass(frozen=True)
class Source:
    account: str
    trust_id: str | None
    node: str
    status: str
    latency_ms: float
    count: int
    account_name: str = ""  # for people: the name the trust's agreement gives

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_name": self.account_name or self.account,
            "trust_id": self.trust_id,
            "node": self.node,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 1),
            "count": self.count,
        }


class Inbox:
    def __init__(self, work: Work, handshake: Handshake, timeout: float) -> None:
        self.work = work
        self.remote = TrustedRequests(work, handshake)
        self.handshake = handshake
        self.timeout = timeout

    def gather(
        self,
        *,
        account: str | None = None,
        sla_state: str | None = None,
        offering: str | None = None,
        team: str | None = None,
        service: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        own = self.work.scope.account_id
        reaches = [
            r
            for r in self.remote.reaches(team_id=team, service_id=service)
            if (account is None or r.trust.peer_account == account) and r.offering_ids
        ]
        args = {"sort": "urgency", "limit": limit, "sla_state": sla_state}
        if offering:
            args["offering"] = [offering]
        key = self.handshake.keys.current() if reaches else None
        items: list[dict[str, Any]] = []
        sources: list[Source] = []
        if reaches:
            assert key is not None
            workers = min(MAX_FANOUT, len(reaches))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbox") as pool:
                futures = [pool.submit(self._ask, r, args, key) for r in reaches]
                for future in futures:
                    source, found = future.result()
                    sources.append(source)
                    items += found
        if account in (None, own) and not offering:
            started = time.perf_counter()
            name = self._own_name()
            local = self._local(sla_state, team, service, limit, name)
            sources.append(Source(own, None, "this node", "ok", _ms(started), len(local), name))
            items += local
        items.sort(key=lambda item: (item["urgency_at"], item["id"]))
        return {"items": items[:limit], "sources": [s.as_dict() for s in sources]}

    def _ask(
        self, reach: Reach, args: dict[str, Any], key: Any
    ) -> tuple[Source, list[dict[str, Any]]]:
        """One trusting node (runs in a pool thread: no database here)."""
        started = time.perf_counter()
        trust = reach.trust
        found: list[dict[str, Any]] = []
        try:
            page = self.remote.list_in(reach, args, key, timeout=self.timeout)
        except PeerDeclined:
            status = "refused"
        except (PeerUnavailable, PeerNotAllowed):
            status = "unreachable"
        else:
            status = "ok"
            found = [
                {
                    **item,
                    "account": trust.peer_account,
                    "account_name": trust.peer_name,
                    "trust_id": trust.id,
                    "path": f"/api/v1/trusts/{trust.id}/requests/{item['id']}",
                }
                for item in page["items"]
            ]
        source = Source(
            trust.peer_account,
            trust.id,
            trust.peer_node,
            status,
            _ms(started),
            len(found),
            trust.peer_name,
        )
        return source, found

    def _own_name(self) -> str:
        account = self.work.session.get(Account, self.work.scope.account_id)
        return account.name if account is not None else self.work.scope.account_id

    def _local(
        self,
        sla_state: str | None,
        team: str | None,
        service: str | None,
        limit: int,
        own_name: str,
    ) -> list[dict[str, Any]]:
        """This account's own open requests the person may see, due soonest first."""
        requests = Requests(self.work)
        filters = RequestFilter(
            statuses=OPEN, sla_state=sla_state, team_id=team, service_id=service
        )
        rows = InboxStore(self.work.session, self.work.scope).most_urgent(
            requests.visibility(), filters, limit
        )
        pauses = requests.store.pauses_of(r.id for r in rows)
        now = self.work.clock.now()
        own = self.work.scope.account_id
        found: list[dict[str, Any]] = []
        for r in rows:
            spans = [(p.began_at, p.ended_at) for p in pauses[r.id]]
            response, resolution = read_clocks(r, spans, now)
            found.append(
                {
                    "id": r.id,
                    "reference": f"REQ-{r.number}",
                    "subject": r.subject,
                    "status": r.status,
                    "priority": r.priority,
                    "offering": r.offering_id,
                    "urgency_at": r.resolution_due_at,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                    "sla": {
                        "name": r.sla_name,
                        "source": r.sla_source,
                        "reason": r.sla_reason,
                        "response": response.as_dict(),
                        "resolution": resolution.as_dict(),
                    },
                    "account": own,
                    "account_name": own_name,
                    "trust_id": None,
                    "path": f"/api/v1/requests/{r.id}",
                }
            )
        return found


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
