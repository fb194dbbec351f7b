"""Passwords are argon2id; tokens carry their account and keep only a hash of the secret."""

from __future__ import annotations

import pytest

from account_node.identity.passwords import Passwords, password_problems
from account_node.identity.tokens import issue_token_secret, parse_token, secret_matches

PASSWORDS = Passwords(time_cost=1, memory_kib=1024)


def test_a_password_hash_is_argon2id_and_verifies():
    stored = PASSWORDS.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert PASSWORDS.verify(stored, "correct horse battery")
    assert not PASSWORDS.verify(stored, "Correct horse battery")


def test_an_unknown_person_is_refused_after_the_same_work():
    assert not PASSWORDS.verify(None, "whatever-you-say")
    assert not PASSWORDS.verify("not-a-hash", "whatever-you-say")


def test_stronger_settings_ask_for_a_rehash():
    stored = PASSWORDS.hash("correct horse battery")
    assert Passwords(time_cost=2, memory_kib=2048).needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "ok"), [("short", False), ("x" * 10, True), ("x" * 257, False)]
)
def test_password_length_rules(password, ok):
    assert (password_problems(password) == []) is ok


def test_a_token_names_its_account_and_only_its_hash_is_kept():
    token, plaintext = issue_token_secret("acme-corp", "person-1")
    parsed = parse_token(plaintext)
    assert parsed is not None
    assert (parsed.account_id, parsed.token_id) == ("acme-corp", token.id)
    assert parsed.secret not in token.secret_hash
    assert secret_matches(token, parsed.secret)
    assert not secret_matches(token, parsed.secret[:-1] + "x")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "tdp_acme",
        "Bearer tdp_a_b_c",
        "tdp_ACME_" + "0" * 32 + "_" + "a" * 43,
        "tdp_acme_xyz_" + "a" * 43,
    ],
)
def test_malformed_tokens_are_not_parsed(value):
    assert parse_token(value) is None
