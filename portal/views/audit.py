"""The audit log for admins and auditors, newest first, with the chain's verification.

Verification recomputes the account's whole hash chain (DESIGN section 6) on every visit:
the page is where an auditor looks, so it must say the truth now, not a cached answer.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from portal.views.web import portal_blueprint, portal_work, signed_in

PAGE = 50


@portal_blueprint.get("/audit")
@signed_in("admin", "auditor")
def audit_log() -> Any:
    work = portal_work()
    before = request.args.get("before", type=int)
    if before is not None and not 1 <= before <= 2**62:
        before = None
    action = (request.args.get("action") or "").strip()[:80] or None
    events = work.audit.page(before, PAGE + 1, action)
    more = len(events) > PAGE
    events = events[:PAGE]
    return render_template(
        "audit/index.html",
        events=events,
        report=work.audit.verify(),
        action=action or "",
        next_before=events[-1].seq if more else None,
    )
