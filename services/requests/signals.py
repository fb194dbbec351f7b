"""Domain events other slices subscribe to (notifications, federation notices).

Sent after the state change is flushed, inside the same unit of work; receivers that
do I/O must enqueue a job (which runs after commit), never call out directly.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the Request; kwargs: clock ("response"|"resolution"), old, new (SLA states)
sla_state_changed = _signals.signal("sla-state-changed")
#: sender: the Request; kwargs: action (created, updated, status, note, assignment, sla),
#: work, internal (True for what only those who work the request see: an internal note)
request_changed = _signals.signal("request-changed")
