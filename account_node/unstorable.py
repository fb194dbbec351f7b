"""Text no database can store: a NUL character, or a lone surrogate.

PostgreSQL cannot store a NUL in text (or JSON) and fails the whole statement; SQLite
stores it. No UTF-8 text can hold a lone surrogate (``"\\ud800"`` in JSON): PostgreSQL
refuses it and the audit chain cannot canonicalize it. A surrogate *pair* is the one
character beyond the BMP it encodes (an emoji, escaped by many encoders) and is fine.

Both reach us only in JSON, from a person (the API's input check, ``refuse_unstorable``)
or from a peer node's answer (the peer client). The parser refuses a raw NUL in a string
(a control character), so a NUL comes escaped, as ``\\u0000``; a surrogate comes escaped
too, or as bytes no UTF-8 text holds, which Python's parser reads from bytes all the same
(it decodes them with ``surrogatepass``, and also reads UTF-16 and UTF-32). So
``may_be_unstorable`` is a cheap and sound first look at the raw bytes: only JSON it
flags needs its parsed strings walked (``unstorable_fields``).

Pure: no framework, no I/O, so the kernel and the trust layer can both use it.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character"
SURROGATE_MESSAGE = (
    "must not contain a lone surrogate (\\ud800 to \\udfff): it encodes no character"
)
_NUL_IN_JSON = b"\\u0000"
_SURROGATE_IN_JSON = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def may_be_unstorable(raw: bytes) -> bool:
    """Whether JSON ``raw`` may, once parsed, hold a NUL or a lone surrogate. False means
    it cannot; True only that its strings must be looked at (an escaped backslash before
    ``u0000`` is text, and a pair is a character)."""
    if _NUL_IN_JSON in raw or _SURROGATE_IN_JSON.search(raw):
        return True
    if b"\x00" in raw:  # never in UTF-8 JSON: UTF-16 or UTF-32, whose escapes we missed
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True  # raw surrogates, or a byte order mark: the parser reads either
    return False


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, if it cannot."""
    if NUL in text:
        return NUL_MESSAGE
    if _SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def unstorable_fields(data: Any, most: int = 20) -> list[tuple[str, str]]:
    """The dotted names of the strings of parsed JSON ``data`` that cannot be stored, with
    why (``body`` for the whole; an object with such a key is named itself), at most
    ``most``. Walked without recursion: however deep the JSON nests."""
    found: list[tuple[str, str]] = []
    pending: deque[tuple[str, Any]] = deque([("", data)])
    while pending and len(found) < most:
        name, value = pending.popleft()
        if isinstance(value, str):
            if why := unstorable(value):
                found.append((name or "body", why))
        elif isinstance(value, dict):
            key_why = next(filter(None, map(unstorable, value)), None)
            if key_why:
                found.append((name or "body", key_why))
            else:
                pending.extend((f"{name}.{k}" if name else k, v) for k, v in value.items())
        elif isinstance(value, list):
            pending.extend((f"{name}.{i}" if name else str(i), v) for i, v in enumerate(value))
    return found


def holds_unstorable(raw: bytes, data: Any) -> bool:
    """Whether ``data``, parsed from JSON ``raw``, holds a NUL or a lone surrogate in any
    string, keys included (for JSON from a peer: it is refused whole, unnamed)."""
    return may_be_unstorable(raw) and bool(unstorable_fields(data, most=1))
