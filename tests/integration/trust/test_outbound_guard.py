"""A trust proposal cannot make the node call its own network (DESIGN section 5).

The node checks a typed URL's form at once and its addresses as the connection opens,
so a URL naming an internal address is refused before any byte is sent, with the
guard's code, and nothing is stored.
"""

from __future__ import annotations

import pytest

from tests.factories.accounts import make_account

PROPOSAL = {"account": "someone", "fingerprint": "SHA256:" + "A" * 43, "code": "a-one-time-code"}


@pytest.mark.parametrize(
    ("node_url", "reason"),
    [
        ("https://10.0.0.1", "peer_address_private"),
        ("https://localhost:5432", "peer_address_private"),
        ("https://[::ffff:169.254.169.254]", "peer_address_private"),
        ("http://8.8.8.8", "peer_url_insecure"),
        ("https://admin:pw@example.com", "peer_url_invalid"),
    ],
)
def test_a_proposal_to_an_internal_or_malformed_url_is_refused_and_stores_nothing(
    app, client, node_url, reason
):
    account = make_account(app)
    answer = client.post(
        "/api/v1/trusts", json={**PROPOSAL, "node_url": node_url}, headers=account.admin.headers
    )
    assert answer.status_code == 422, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert (answer.get_json()["code"], answer.get_json()["reason"]) == ("peer_not_allowed", reason)
    assert set(answer.get_json()["errors"]) == {"node_url"}
    assert client.get("/api/v1/trusts", headers=account.admin.headers).get_json()["items"] == []
