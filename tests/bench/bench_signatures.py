"""RFC 9421 signature verifications and signings per second, on one core (one thread).

The workload is a typical federation call: a signed POST with a 1 KiB JSON body, trust
and actor headers, through the whole profile of ``trust.crypto.httpsig``. Verification is
the full ``verify_request``: structured-field parsing, key lookup, signature base,
Ed25519, tag/components, window and the SHA-256 body digest. Signing is ``sign_request``
(digest, base, Ed25519, fields). Each figure is the best of three timed rounds.

Run standalone (``python tests/bench/bench_signatures.py``) or through
``tests/bench/run.py signatures``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # standalone: make the repository importable
    sys.path.insert(0, str(ROOT))

from trust.crypto.httpsig import HttpRequestParts, sign_request, verify_request  # noqa: E402
from trust.crypto.keys import SigningKey  # noqa: E402

NOW = 1_700_000_000
URL = "https://customer.example/federation/v1/requests/r-42/notes"


def _body() -> bytes:
    body = json.dumps({"request": "r-42", "kind": "note", "text": ""}).encode()
    padded = json.dumps({"request": "r-42", "kind": "note", "text": "x" * (1024 - len(body))})
    return padded.encode()


def _request(body: bytes) -> HttpRequestParts:
    headers = {
        "Content-Type": "application/json",
        "TrustDesk-Trust": "trust-7f3a",
        "TrustDesk-Actor": "p-1234",
    }
    return HttpRequestParts("POST", URL, headers, body)


def _best_rate(work: Any, count: int) -> float:
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return count / best


def main(count: int = 2000) -> dict[str, Any]:
    key = SigningKey.generate("msp#k1")
    body = _body()
    assert len(body) == 1024
    resolve = {"msp#k1": key.verify_key}.get
    signed = [_request(body) for _ in range(count)]
    for parts in signed:
        sign_request(parts, key, created=NOW)

    def signing() -> None:
        for _ in range(count):
            sign_request(_request(body), key, created=NOW)

    def verifying() -> None:
        for parts in signed:
            verify_request(parts, resolve, now=NOW + 1)

    signs, verifies = _best_rate(signing, count), _best_rate(verifying, count)
    rows = [
        {"operation": "verify_request", "per_second": round(verifies), "us_each": 1e6 / verifies},
        {"operation": "sign_request", "per_second": round(signs), "us_each": 1e6 / signs},
    ]
    for row in rows:
        row["us_each"] = round(row["us_each"], 1)
    return {
        "rows": rows,
        "verifications_per_s": round(verifies),
        "signings_per_s": round(signs),
        "body_bytes": len(body),
    }


def _print(result: dict[str, Any]) -> None:
    print(f"RFC 9421 on one core, POST with a {result['body_bytes']} B JSON body")
    print(f"{'operation':<16}{'per second':>12}{'us each':>10}")
    for row in result["rows"]:
        print(f"{row['operation']:<16}{row['per_second']:>12,}{row['us_each']:>10}")


if __name__ == "__main__":
    _print(main())
