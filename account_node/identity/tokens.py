"""Personal API token format: ``tdp_<account>_<token id>_<secret>``.

The account id in the token lets the node bind the account scope *before* it looks the
token up, so even authentication reads only that account's rows (and RLS applies). Only
a SHA-256 of the secret is stored: the secret has 256 bits of entropy, so a slow hash
would add cost without adding safety.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from account_node.identity.models import ApiToken

PREFIX = "tdp"
_TOKEN_RE = re.compile(r"^tdp_([a-z0-9-]{1,40})_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ParsedToken:
    account_id: str
    token_id: str
    secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token_secret(account_id: str, person_id: str) -> tuple[ApiToken, str]:
    token_id = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(id=token_id, person_id=person_id, secret_hash=secret_hash(secret))
    return token, f"{PREFIX}_{account_id}_{token_id}_{secret}"


def parse_token(value: str) -> ParsedToken | None:
    match = _TOKEN_RE.fullmatch(value or "")
    if not match:
        return None
    return ParsedToken(*match.groups())


def secret_matches(token: ApiToken, secret: str) -> bool:
    return hmac.compare_digest(token.secret_hash, secret_hash(secret))
