"""Trust events other layers subscribe to (trust never imports them: DESIGN section 2).

Sent inside the unit of work that made the change; receivers defer I/O to after commit.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the Trust; kwargs: work. Open live streams under it must close.
trust_deactivated = _signals.signal("trust-deactivated")
