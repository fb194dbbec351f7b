"""The time zone names a person or a calendar may be given: IANA names, and only those.

Pure (``zoneinfo`` only), so the calendar core may use it as the kernel does.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

EXAMPLE = "Europe/Amsterdam"


@cache
def zone_names() -> frozenset[str]:
    """The IANA zone names this machine knows. Not every file ZoneInfo can load names a
    zone: ``localtime`` is whatever the host is set to (a calendar or a person stored
    with it would mean another zone on another node, and held calendars travel),
    ``posixrules`` a default for POSIX strings, ``Factory`` no place at all;
    ``posix/...`` and ``right/...`` (leap seconds) are copies that
    ``available_timezones`` leaves out."""
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def is_zone_name(name: Any) -> bool:
    return isinstance(name, str) and name in zone_names()


def unknown_zone(name: Any) -> str:
    """What to tell someone who gave ``name``."""
    return f"unknown time zone {name!r}: use an IANA name such as {EXAMPLE}"
