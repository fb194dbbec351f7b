"""RFC 9421 signature verifications (and signings) per second on one core.

A typical signed POST: 1 KiB JSON body, trust and actor headers, the full profile of
``trust.crypto.httpsig`` (key lookup, Ed25519, window, SHA-256 digest).
"""

from __future__ import annotations

import json
import time
from typing import Any

from trust.crypto.httpsig import HttpRequestParts, sign_request, verify_request
from trust.crypto.keys import SigningKey

NOW = 1_700_000_000


def _request() -> HttpRequestParts:
    body = json.dumps({"note": "x" * 1000}).encode()
    headers = {
        "Content-Type": "application/json",
        "TrustDesk-Trust": "t-1",
        "TrustDesk-Actor": "p-1",
    }
    return HttpRequestParts(
        "POST", "https://customer.example/federation/v1/requests/r1/notes", headers, body
    )


def main(count: int = 3000) -> dict[str, Any]:
    key = SigningKey.generate()
    began = time.perf_counter()
    signed = [sign_request(_request(), key, keyid="msp#k1", created=NOW) for _ in range(count)]
    signing = count / (time.perf_counter() - began)
    resolve = {"msp#k1": key.verify_key}.get
    began = time.perf_counter()
    for parts in signed:
        verify_request(parts, resolve, now=NOW)
    verifying = count / (time.perf_counter() - began)
    return {"signings_per_s": round(signing), "verifications_per_s": round(verifying)}


if __name__ == "__main__":
    from tests.bench.harness import print_table

    print_table("RFC 9421 on one core", main())
