"""The peer client: a read the peer dropped unanswered is sent once more, signed anew."""

from __future__ import annotations

import httpx
import pytest

from trust.client import PeerClient
from trust.crypto.keys import KeyRef, SigningKey
from trust.errors import PeerUnavailable
from trust.guard import OutboundPolicy
from trust.keystore import OwnKey

URL = "http://127.0.0.1:8765/federation/v1/acme/trusts/t1/requests"
KEY = OwnKey(KeyRef("msp", "k1"), SigningKey.generate("msp#k1"))


def _client(answers: list[object]) -> tuple[PeerClient, list[httpx.Request]]:
    """A client whose peer gives ``answers`` in turn: an exception to raise or a body."""
    sent: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(200, json=answer)

    policy = OutboundPolicy(allow_http=True, allow_private=True)
    return PeerClient(policy, 2.0, transport=httpx.MockTransport(peer)), sent


def test_a_read_the_peer_dropped_unanswered_is_sent_again_with_a_fresh_signature():
    """A kept-alive connection the peer was closing loses the call without an answer;
    the nonce may have reached it, so the second try is signed anew."""
    client, sent = _client([httpx.RemoteProtocolError("server disconnected"), {"items": []}])
    assert client.signed("GET", URL, KEY, now=1_700_000_000, trust_id="t1") == {"items": []}
    assert len(sent) == 2
    assert sent[0].headers["signature"] != sent[1].headers["signature"]
    assert sent[0].headers["signature-input"] != sent[1].headers["signature-input"]


def test_an_action_the_peer_dropped_is_not_sent_again():
    """The peer may have done it before the connection went: the caller must decide."""
    client, sent = _client([httpx.RemoteProtocolError("server disconnected"), {"seq": 2}])
    with pytest.raises(PeerUnavailable):
        client.signed("POST", URL + "/r1/notes", KEY, now=1_700_000_000, body={"body": "Hi"})
    assert len(sent) == 1


def test_a_read_that_timed_out_is_not_sent_again():
    """A peer too slow to answer gets no second chance to hold the page up."""
    client, sent = _client([httpx.ReadTimeout("slow"), {"items": []}])
    with pytest.raises(PeerUnavailable):
        client.signed("GET", URL, KEY, now=1_700_000_000)
    assert len(sent) == 1


def test_a_read_dropped_twice_is_unavailable():
    client, sent = _client([httpx.ReadError("reset"), httpx.ReadError("reset"), {"items": []}])
    with pytest.raises(PeerUnavailable):
        client.signed("GET", URL, KEY, now=1_700_000_000)
    assert len(sent) == 2


def test_each_peer_has_a_connection_pool_of_its_own():
    """httpcore's pool scans every connection it holds to place each call: one pool per
    peer keeps that scan short however many peers an inbox fans out to."""
    client, _ = _client([])

    def pool_of(url: str):
        return client._pool(client._check(url))

    same = pool_of("http://127.0.0.1:8765/federation/v1/a")
    assert pool_of("HTTP://127.0.0.1:8765/.well-known/trustdesk-node") is same
    assert pool_of("http://127.0.0.1:8765?x=1") is same
    other = pool_of("http://127.0.0.1:8766/federation/v1/a")
    assert other is not same
    client.close()
    assert same.is_closed and other.is_closed


def test_calls_to_two_peers_each_reach_their_own_peer():
    client, sent = _client([{"items": [1]}, {"items": [2]}])
    assert client.signed("GET", URL, KEY, now=1_700_000_000) == {"items": [1]}
    other = URL.replace("8765", "8766")
    assert client.signed("GET", other, KEY, now=1_700_000_000) == {"items": [2]}
    assert [str(r.url) for r in sent] == [URL, other]
