"""Canonical JSON per RFC 8785 (JCS): the exact bytes every TrustDesk document signature covers.

Two parties that sign "the same agreement" must sign the same bytes, whatever their JSON
libraries do with member order, whitespace, escaping or number formatting. RFC 8785 fixes
all of them (section 3.2): no whitespace (3.2.1), ECMAScript number and string
serialization (3.2.2), members sorted by their UTF-16 code units (3.2.3), UTF-8 output
(3.2.4). The ``rfc8785`` package implements the serialization; this module owns the policy
of what may be canonicalized at all.

Invariants:

- Only plain JSON values go in: ``dict`` with ``str`` keys, ``list``, ``str``, ``int``,
  ``float``, ``bool`` and ``None``. Tuples, sets, bytes, dates, ``Decimal`` and the rest are
  refused rather than coerced, so the value that was signed is exactly the value that is
  stored, sent and compared later (a tuple would come back from JSON as a list).
- NaN and the infinities have no JSON form (RFC 8785 section 3.2.2.3): refused.
- JSON numbers are IEEE 754 doubles (RFC 8785 section 3.2.2.3). An integer within the
  I-JSON safe range (magnitude at most 2**53 - 1, RFC 7493 section 2.2) is exact. A larger
  one is accepted only if its decimal form is exactly the JCS form of a double, as for
  ``2**53`` or ``10**20``; any other (``2**53 + 1``) would be signed as a different number
  than the one given, so it is refused. This also makes canonicalization stable under a
  JSON round trip: JCS writes the double ``1e20`` as ``100000000000000000000``, which a
  peer parses as an integer and must canonicalize to the same bytes.
- Strings must be valid Unicode (no lone surrogates, RFC 8785 section 3.2.2.2).
- Nesting is limited to ``MAX_DEPTH`` levels: no TrustDesk document comes near it, and it
  bounds recursion on documents that arrive from peers.

Every refusal is a :class:`CanonicalizationError` (a ``ValueError``) whose message names the
JSON path of the offending value, for example ``$.scopes[2]``.
"""

from __future__ import annotations

import math
from typing import Any

import rfc8785

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "CanonicalizationError", "canonicalize"]


class CanonicalizationError(ValueError):
    """The value has no RFC 8785 form; the message says where and why."""


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of the JSON value ``value``.

    Raises :class:`CanonicalizationError` for anything that is not a plain, finite,
    exactly representable JSON value (see the module docstring).
    """
    plain = _plain(value, "$", 0)
    try:
        return rfc8785.dumps(plain)
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        # UnicodeEncodeError (a lone surrogate in a member name) lands here too.
        raise CanonicalizationError(f"$: {exc}") from exc


def _plain(value: Any, path: str, depth: int) -> Any:
    """``value`` checked, with integers beyond the safe range turned into their double."""
    if depth > MAX_DEPTH:
        raise CanonicalizationError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError(f"{path}: member name {key!r} is not a string")
        return {k: _plain(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return _integer(value, path)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalizationError(f"{path}: {value!r} has no JSON form (RFC 8785 3.2.2.3)")
        return value
    raise CanonicalizationError(f"{path}: {type(value).__name__} is not a JSON value")


def _integer(value: int, path: str) -> int | float:
    if abs(value) <= MAX_SAFE_INTEGER:
        return value
    double = float(value) if abs(value) < 2**1024 else math.inf
    if math.isfinite(double) and rfc8785.dumps(double) == str(value).encode():
        return double
    raise CanonicalizationError(
        f"{path}: integer {value} is not exactly a JSON (IEEE 754 double) number"
    )
