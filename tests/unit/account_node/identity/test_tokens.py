"""Personal API tokens read ``tdp_<account>_<token id>_<secret>``; the node keeps only a
SHA-256 of the secret and refuses anything not in exactly that shape."""

from __future__ import annotations

import hashlib
import re

import pytest

from account_node.identity.tokens import (
    ParsedToken,
    issue_token_secret,
    parse_token,
    secret_hash,
    secret_matches,
)

TOKEN_SHAPE = re.compile(r"tdp_[a-z0-9-]{1,40}_[0-9a-f]{32}_[A-Za-z0-9_-]{43}")


def test_an_issued_token_has_the_documented_shape_and_names_its_account():
    token, plaintext = issue_token_secret("acme-corp", "person-1")
    assert TOKEN_SHAPE.fullmatch(plaintext)
    assert plaintext.startswith(f"tdp_acme-corp_{token.id}_")
    assert token.person_id == "person-1"


def test_only_the_sha256_of_the_secret_is_kept():
    token, plaintext = issue_token_secret("acme", "p1")
    secret = plaintext[-43:]
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest() == secret_hash(secret)
    assert secret not in token.secret_hash


def test_every_issued_token_parses_back_to_its_parts():
    # Secrets are URL-safe base64 and may themselves contain "_" and "-".
    for n in range(200):
        account_id = f"a{n}-{'x' * (n % 30)}"
        token, plaintext = issue_token_secret(account_id, "p1")
        parsed = parse_token(plaintext)
        assert parsed == ParsedToken(account_id, token.id, plaintext[-43:])
        assert secret_matches(token, parsed.secret)


def test_a_forty_character_account_id_fits():
    account_id = "a" * 20 + "-" + "b" * 19
    _, plaintext = issue_token_secret(account_id, "p1")
    assert parse_token(plaintext).account_id == account_id


def test_issued_tokens_are_unique():
    issued = [issue_token_secret("acme", "p1") for _ in range(50)]
    assert len({token.id for token, _ in issued}) == len({text for _, text in issued}) == 50


def _valid() -> str:
    return issue_token_secret("acme", "p1")[1]


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "tdp",
        "tdp_acme",
        "tdp_acme_" + "0" * 32,
        "Bearer tdp_acme_" + "0" * 32 + "_" + "a" * 43,
        "tdp_ACME_" + "0" * 32 + "_" + "a" * 43,  # upper-case account
        "tdp_ac.me_" + "0" * 32 + "_" + "a" * 43,
        "tdp_" + "a" * 41 + "_" + "0" * 32 + "_" + "a" * 43,  # account too long
        "tdp_acme_" + "0" * 31 + "_" + "a" * 43,  # id too short
        "tdp_acme_" + "G" * 32 + "_" + "a" * 43,  # id not hex
        "tdp_acme_" + "0" * 32 + "_" + "a" * 42,  # secret too short
        "tdp_acme_" + "0" * 32 + "_" + "a" * 44,  # secret too long
        "tdp_acme_" + "0" * 32 + "_" + "a" * 42 + "=",  # padded base64
        "tdx_acme_" + "0" * 32 + "_" + "a" * 43,
        " tdp_acme_" + "0" * 32 + "_" + "a" * 43,
        "tdp_acme_" + "0" * 32 + "_" + "a" * 43 + " ",
    ],
)
def test_a_malformed_token_is_not_parsed(value):
    assert parse_token(value) is None


def test_a_token_with_a_trailing_newline_is_not_parsed():
    assert parse_token(_valid() + "\n") is None


def test_the_secret_must_match_exactly():
    token, plaintext = issue_token_secret("acme", "p1")
    secret = plaintext[-43:]
    assert secret_matches(token, secret)
    assert not secret_matches(token, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert not secret_matches(token, secret + "x")
    assert not secret_matches(token, "")
