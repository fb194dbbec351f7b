"""The hash of one audit event, and the check of a whole chain.

Each event's hash is SHA-256 over the RFC 8785 canonical JSON of its content together
with the previous event's hash, so changing, inserting, removing or reordering any event
breaks every link after it. Pure: it works on plain mappings, not on ORM rows.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785

from account_node.audit.models import GENESIS

HASHED_FIELDS = (
    "account_id",
    "seq",
    "at",
    "actor_id",
    "actor_account_id",
    "actor_name",
    "vouched_by",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "prev_hash",
)


def event_hash(fields: Mapping[str, Any]) -> str:
    content = {name: _plain(fields[name]) for name in HASHED_FIELDS}
    return hashlib.sha256(canonical(content)).hexdigest()


def canonical(content: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of ``content``.

    Every change writes an audit event, so this is on every write path. For content made
    only of ``None``, booleans, safe integers, strings, lists and dicts with ASCII keys,
    the standard library's encoder writes exactly the same bytes as ``rfc8785`` (it
    escapes the same characters the same way, and ASCII keys sort the same by code
    point as by UTF-16 unit) and is several times faster; anything else (floats,
    non-ASCII keys, other types, text that is not UTF-8) goes to ``rfc8785``.
    """
    if _simple(content):
        try:
            return json.dumps(
                content, ensure_ascii=False, separators=(",", ":"), sort_keys=True
            ).encode()
        except UnicodeEncodeError:
            pass
    return rfc8785.dumps(content)


_SAFE_INT = 2**53 - 1


def _simple(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is dict:
        return all(type(k) is str and k.isascii() and _simple(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_simple(v) for v in value)
    return False


@dataclass(frozen=True)
class Template:
    """Text with holes for values only the database knows, under its lock (the chain
    head's hash and number, a request's number): ``parts[0] + v0 + parts[1] + ... +
    parts[-1]``, where ``holes`` names v0, v1, ... in order."""

    parts: tuple[str, ...]
    holes: tuple[str, ...]

    def fill(self, values: Mapping[str, object]) -> str:
        """What the database makes of it (for tests; the database does it in SQL)."""
        filled = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            filled += [str(values[hole]), part]
        return "".join(filled)


def hash_template(fields: Mapping[str, Any], after_holes: tuple[str, ...] = ()) -> Template:
    """The event's canonical JSON with holes for ``prev_hash`` and ``seq``, and for the
    integer keys of ``after`` named in ``after_holes`` (as ``after.<key>``).

    The SHA-256 of ``fill`` with the values is ``event_hash`` of the event that holds
    them, so the database can finish the hash in the statement that takes the chain
    head, with the values it just locked (one round trip per event, and no second lock
    held across a round trip). Each hole is marked by a random token, so no content,
    however crafted, can be taken for one; a token found other than once is an error.
    """
    tag = secrets.token_hex(8)
    content = {name: _plain(fields.get(name)) for name in HASHED_FIELDS}
    # The hash is hex text: its hole sits inside the quotes. Numbers replace theirs.
    content["prev_hash"], content["seq"] = f"~{tag}p", f"~{tag}s"
    markers = {"prev_hash": f"~{tag}p", "seq": f'"~{tag}s"'}
    if after_holes:
        after = dict(content["after"] or {})
        for n, key in enumerate(after_holes):
            after[key] = f"~{tag}a{n}"
            markers[f"after.{key}"] = f'"~{tag}a{n}"'
        content["after"] = after
    return cut(canonical(content).decode(), markers)


def json_template(value: Mapping[str, Any], holes: tuple[str, ...]) -> Template:
    """``value`` as JSON text with holes for its integer keys ``holes`` (named as in
    ``hash_template``): what the database stores, once filled, in a JSON column."""
    tag = secrets.token_hex(8)
    marked = dict(value)
    markers = {}
    for n, key in enumerate(holes):
        marked[key] = f"~{tag}a{n}"
        markers[f"after.{key}"] = f'"~{tag}a{n}"'
    return cut(json.dumps(marked, sort_keys=True), markers)  # holes in hash_template's order


def cut(text: str, markers: Mapping[str, str]) -> Template:
    """``text`` cut where each marker stands; each must stand there exactly once."""
    found = []
    for hole, marker in markers.items():
        at = text.find(marker)
        if at < 0 or text.find(marker, at + 1) >= 0:
            raise RuntimeError(f"the marker of {hole} is not in the text exactly once")
        found.append((at, hole, marker))
    found.sort()
    parts, start = [], 0
    for at, _, marker in found:
        parts.append(text[start:at])
        start = at + len(marker)
    parts.append(text[start:])
    return Template(tuple(parts), tuple(hole for _, hole, _ in found))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


BELOW_ONE = "event numbered below 1"


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
        }


def verify_chain(
    events: Iterable[Mapping[str, Any]], head: tuple[int, str] | None = None
) -> ChainReport:
    """Walk events in ``seq`` order, from the lowest stored, and report the first link
    that does not hold.

    ``head`` is the recorded (seq, hash) of the chain head: a chain whose tail was cut
    off is otherwise indistinguishable from a shorter, intact one. A chain begins at 1:
    an event numbered lower sits outside it, where a check that started at 1 never
    looked (nor did the log's listing), so it is a break at its own number.
    """
    expected_prev, expected_seq, count = GENESIS, 1, 0
    head_seq = head[0] if head is not None else None
    for event in events:
        count += 1
        seq = event["seq"]
        if seq < 1:
            return ChainReport(False, count, 0, GENESIS, seq, BELOW_ONE)
        if head_seq is not None and seq > head_seq:
            return _broken(count, expected_prev, head_seq + 1, "events beyond the recorded head")
        if seq != expected_seq:
            return _broken(count, expected_prev, expected_seq, f"event {expected_seq} is missing")
        if event["prev_hash"] != expected_prev:
            return _broken(count, expected_prev, seq, "previous-hash link does not match")
        if event_hash(event) != event["hash"]:
            return _broken(count, expected_prev, seq, "event content does not match its hash")
        if head is not None and seq == head_seq and event["hash"] != head[1]:
            return _broken(count, expected_prev, seq, "the event does not match the recorded head")
        expected_prev, expected_seq = event["hash"], seq + 1
    last_seq = expected_seq - 1
    if head_seq is not None and last_seq < head_seq:
        return _broken(count, expected_prev, last_seq + 1, "chain ends before its recorded head")
    return ChainReport(True, count, last_seq, expected_prev)


def _broken(count: int, head_hash: str, seq: int, reason: str) -> ChainReport:
    return ChainReport(False, count, seq - 1, head_hash, first_broken_seq=seq, reason=reason)
