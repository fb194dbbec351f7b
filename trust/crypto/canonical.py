"""Canonical JSON per RFC 8785 (JCS): the bytes every TrustDesk signature covers.

Two parties that sign "the same agreement" must sign the same bytes, whatever their
JSON libraries do with key order, whitespace or number formatting. RFC 8785 fixes all
three (section 3.2): sorted keys by UTF-16 code units, no whitespace, ECMAScript number
serialization. Values that JSON cannot carry exactly are refused, never coerced.
"""

from __future__ import annotations

import math
from typing import Any

import rfc8785


class CanonicalizationError(ValueError):
    """The value has no RFC 8785 form (NaN, infinity, non-string keys, other types)."""


def canonicalize(value: Any) -> bytes:
    _check(value)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CanonicalizationError(str(exc)) from exc


def _check(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise CanonicalizationError("JSON has no NaN or infinity")
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(f"object keys must be strings, not {key!r}")
            _check(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            _check(inner)
    elif not (value is None or isinstance(value, bool | int | float | str)):
        raise CanonicalizationError(f"{type(value).__name__} is not a JSON value")
