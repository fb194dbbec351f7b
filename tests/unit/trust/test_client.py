"""The peer client: a read the peer dropped unanswered is sent once more, signed anew;
and every connection opens to an address the guard checked as it opened."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from trust.client import PeerClient, PinnedBackend, PinnedTransport
from trust.crypto.keys import KeyRef, SigningKey
from trust.errors import PeerDeclined, PeerNotAllowed, PeerOutcomeUnknown, PeerUnavailable
from trust.guard import OutboundPolicy, PeerRefused
from trust.keystore import OwnKey

URL = "http://127.0.0.1:8765/federation/v1/acme/trusts/t1/requests"
KEY = OwnKey(KeyRef("msp", "k1"), SigningKey.generate("msp#k1"))


def _client(answers: list[object]) -> tuple[PeerClient, list[httpx.Request]]:
    """A client whose peer gives ``answers`` in turn: an exception to raise, a response,
    raw bytes to answer 200 with, or a body to answer 200 with as JSON."""
    sent: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
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
    with pytest.raises(PeerOutcomeUnknown):
        client.signed("POST", URL + "/r1/notes", KEY, now=1_700_000_000, body={"body": "Hi"})
    assert len(sent) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("no answer in time"),
        httpx.Response(502),  # a proxy lost the node's answer
        httpx.Response(504),
        httpx.Response(500),
        httpx.Response(200, content=b"<html>"),  # it answered yes, in words we cannot read
    ],
    ids=["read timeout", "502", "504", "500", "garbage"],
)
def test_an_action_that_reached_the_peer_unanswered_may_have_been_done(failure):
    """Said so, not "unavailable": a person told nothing changed would post it twice."""
    client, _ = _client([failure])
    with pytest.raises(PeerOutcomeUnknown):
        client.signed("POST", URL + "/r1/notes", KEY, now=1_700_000_000, body={"body": "Hi"})


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no route"),
        httpx.Response(503),
        httpx.Response(429),
    ],
    ids=["refused", "connect timeout", "503", "429"],
)
def test_an_action_that_never_reached_the_peer_or_was_turned_away_was_not_done(failure):
    client, _ = _client([failure])
    with pytest.raises(PeerUnavailable) as caught:
        client.signed("POST", URL + "/r1/notes", KEY, now=1_700_000_000, body={"body": "Hi"})
    assert not isinstance(caught.value, PeerOutcomeUnknown)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_peer_that_cannot_serve_now_is_unavailable_not_refusing(status):
    """A restart behind a proxy is not the customer ending the trust: the inbox says
    unreachable, and the outbox tries again."""
    client, _ = _client([httpx.Response(status, json={"code": "trust_inactive"})])
    with pytest.raises(PeerUnavailable) as caught:
        client.get_json(URL)
    assert caught.value.extensions["peer_status"] == status


@pytest.mark.parametrize("status", [301, 302, 304, 307])
def test_a_redirect_is_no_answer_whatever_its_body_holds(status):
    redirect = httpx.Response(status, json={"items": []}, headers={"Location": "http://x.test/"})
    client, sent = _client([redirect])
    with pytest.raises(PeerUnavailable):
        client.signed("GET", URL, KEY, now=1_700_000_000)
    assert len(sent) == 1  # not followed


def test_answers_are_asked_for_unencoded_and_an_encoded_one_is_refused_unread():
    """827 bytes of stacked gzip decoded to 800 MB in one read, before any size check
    could look: a peer's answer is taken as sent, or not at all."""
    bomb = gzip.compress(gzip.compress(b"0" * 10_000_000))
    encoded = httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip, gzip"})
    client, sent = _client([encoded, {"items": []}])
    with pytest.raises(PeerUnavailable, match="encoded"):
        client.get_json(URL)
    assert sent[0].headers["accept-encoding"] == "identity"
    assert client.signed("GET", URL, KEY, now=1_700_000_000) == {"items": []}
    assert sent[1].headers["accept-encoding"] == "identity"


def test_cookies_a_peer_sets_are_never_sent_back():
    """A peer must not make this node repeat a header of its choosing on signed calls."""
    planted = httpx.Response(200, json={"items": []}, headers={"Set-Cookie": "tracker=1; Path=/"})
    client, sent = _client([planted, {"items": []}])
    client.signed("GET", URL, KEY, now=1_700_000_000, trust_id="t1")
    client.signed("GET", URL, KEY, now=1_700_000_001, trust_id="t1")
    assert "cookie" not in sent[1].headers


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


# A lying peer: an answer it could give is one this node must be able to store.

UNSTORABLE = [
    rb'{"name": "Account \ud800"}',  # a lone high surrogate
    rb'{"items": [{"subject": "Printer \udc00 jams"}]}',  # a lone low one, in a list
    rb'{"items": [{"subject": "Printer \u0000 jams"}]}',  # a NUL
    rb'{"items": [{"sub\u0000ject": "Printer jams"}]}',  # a NUL in a key
    b'{"name": "Account \xed\xa0\x80"}',  # a surrogate as raw bytes, not escaped
]


@pytest.mark.parametrize("answer", UNSTORABLE)
def test_an_answer_holding_text_no_database_can_store_is_unavailable(answer):
    """Refused whole, as a non-JSON answer is, before any caller writes, signs or shows
    it; the peer's own text is not in the error."""
    client, _ = _client([answer])
    with pytest.raises(PeerUnavailable) as caught:
        client.signed("GET", URL, KEY, now=1_700_000_000)
    assert caught.value.detail == "the peer's answer held text that cannot be stored"
    shown = str(caught.value.to_problem())
    assert "Account" not in shown and "Printer" not in shown


def test_an_answer_whose_surrogates_are_pairs_is_the_text_they_encode():
    client, _ = _client([rb'{"name": "Account \ud83d\ude00"}', "Zoë 😀".encode()])
    assert client.get_json(URL) == {"name": "Account 😀"}


def test_an_answer_nested_past_the_parsers_limit_is_not_json():
    """Python's parser recurses: a peer's ``[[[[...`` must not become a crash here."""
    client, _ = _client([b"[" * 100_000, httpx.Response(403, content=b"[" * 100_000)])
    with pytest.raises(PeerUnavailable, match="not JSON"):
        client.get_json(URL)
    with pytest.raises(PeerDeclined) as caught:
        client.get_json(URL)
    assert caught.value.extensions.get("peer_code") is None


def test_a_refusal_passes_on_its_code_only_whatever_its_prose_holds():
    problem = rb'{"code": "trust_inactive", "detail": "gone \ud800 \u0000"}'
    client, _ = _client([httpx.Response(403, content=problem)])
    with pytest.raises(PeerDeclined) as caught:
        client.get_json(URL)
    assert caught.value.extensions["peer_code"] == "trust_inactive"


# DNS rebinding: the connection, not only the URL, must go to a checked address.

STRICT_OVER_HTTP = OutboundPolicy(allow_http=True)  # plain HTTP for the test peer only
DEVELOPMENT = OutboundPolicy(allow_http=True, allow_private=True)


@pytest.mark.parametrize("internal", ["127.0.0.1", "10.1.2.3"])
def test_a_name_resolving_to_an_internal_address_is_refused_before_sending(dns, peer, internal):
    """The only lookup is the connection's own, and its answer is checked before the
    socket opens: the call is refused with the guard's code, the service gets nothing."""
    dns.answer("peer.test", internal)
    client = PeerClient(STRICT_OVER_HTTP, 2.0)
    with pytest.raises(PeerNotAllowed) as caught:
        client.signed("GET", f"http://peer.test:{peer.port}/x", KEY, now=1_700_000_000)
    client.close()
    assert caught.value.extensions["reason"] == "peer_address_private"
    assert dns.lookups == ["peer.test"]
    assert peer.connections == 0


def test_a_connection_goes_to_the_address_checked_as_it_opened(dns, peer):
    """Any lookup after the connection's own check answers an unroutable address: the
    call reaches the peer only because the socket connects to the checked one."""
    dns.answer("peer.test", "127.0.0.1", "192.0.2.1")
    client = PeerClient(DEVELOPMENT, 2.0)
    assert client.get_json(f"http://peer.test:{peer.port}/x") == {"ok": True}
    client.close()
    assert dns.lookups == ["peer.test"]
    assert peer.hosts == [f"peer.test:{peer.port}"]  # the Host header keeps the name


def test_calls_on_a_kept_alive_connection_ask_no_resolver(dns, peer):
    """A page of the inbox calls twenty peers: a lookup each per call would put the
    resolver's latency, and its hiccups, in every page."""
    dns.answer("peer.test", "127.0.0.1")
    client = PeerClient(DEVELOPMENT, 2.0)
    for _ in range(3):
        assert client.get_json(f"http://peer.test:{peer.port}/x") == {"ok": True}
    client.close()
    assert (dns.lookups, peer.connections) == (["peer.test"], 1)


def test_development_settings_still_reach_a_loopback_peer(peer):
    """As the federation tests' nodes do, on 127.0.0.1 over http."""
    client = PeerClient(DEVELOPMENT, 2.0)
    assert client.get_json(f"http://127.0.0.1:{peer.port}/x") == {"ok": True}
    client.close()
    assert peer.connections == 1


def test_a_name_that_does_not_resolve_as_the_connection_opens_is_unavailable(dns, peer):
    """The URL's form was allowed; its name failing to resolve is a network fault."""
    dns.answer("peer.test", None)
    client = PeerClient(DEVELOPMENT, 2.0)
    with pytest.raises(PeerUnavailable):
        client.get_json(f"http://peer.test:{peer.port}/x")
    client.close()
    assert peer.connections == 0


def test_the_pinned_network_refuses_an_internal_address_without_connecting(peer):
    with pytest.raises(PeerRefused) as caught:
        PinnedBackend(OutboundPolicy()).connect_tcp("localhost", peer.port, timeout=2.0)
    assert caught.value.code == "peer_address_private"
    assert peer.connections == 0


def test_tls_checks_the_peer_name_over_the_pinned_socket(dns, tls_peer):
    """The certificate names the host, not an address: SNI and the certificate check
    use the URL's host name while the socket goes to the address checked for it."""
    dns.answer("peer.test", "127.0.0.1")
    peer, trusted = tls_peer("peer.test")
    with _pinned_pool(trusted) as pool:
        assert pool.get(f"https://peer.test:{peer.port}/x").json() == {"ok": True}
    assert peer.server_names == ["peer.test"]


def test_tls_still_refuses_a_certificate_for_another_name(dns, tls_peer):
    dns.answer("peer.test", "127.0.0.1")
    peer, trusted = tls_peer("other.test")
    with (
        _pinned_pool(trusted) as pool,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        pool.get(f"https://peer.test:{peer.port}/x")
    assert peer.hosts == []


def _pinned_pool(trusted: ssl.SSLContext) -> httpx.Client:
    """A pool as the client builds one, trusting the test peer's certificate."""
    return httpx.Client(transport=PinnedTransport(DEVELOPMENT, httpx.Limits(), trusted))


# A peer that is slow on purpose: each byte inside the read timeout, the answer never.


@pytest.fixture
def dripping_peer() -> Iterator[int]:
    """A port whose server answers with a status line and headers one byte every 0.1 s:
    every read succeeds well inside any per-read timeout, and the answer takes minutes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def drip(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 2000:
                if stop.wait(0.1):
                    return
                try:
                    connection.send(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_peer_dripping_its_headers_is_cut_off_at_the_calls_deadline(dripping_peer, method):
    """httpx's timeouts bound each read, not the call: without a deadline on the socket
    itself this call would last as long as the peer liked, holding a job or a thread."""
    client = PeerClient(DEVELOPMENT, 1.0)
    url = f"http://127.0.0.1:{dripping_peer}/federation/v1/acme/trusts/t1/requests"
    body = {"body": "Hi"} if method == "POST" else None
    started = time.monotonic()
    with pytest.raises(PeerUnavailable):
        client.signed(method, url, KEY, now=1_700_000_000, body=body, trust_id="t1")
    client.close()
    assert time.monotonic() - started < 2.0


def test_a_shorter_limit_for_one_call_is_its_deadline(dripping_peer):
    client = PeerClient(DEVELOPMENT, 5.0)
    url = f"http://127.0.0.1:{dripping_peer}/federation/v1/acme/trusts/t1/requests"
    started = time.monotonic()
    with pytest.raises(PeerUnavailable):
        client.signed("GET", url, KEY, now=1_700_000_000, trust_id="t1", timeout=0.5)
    client.close()
    assert time.monotonic() - started < 1.5


def test_a_name_whose_lookup_outlasts_the_call_is_unavailable_at_the_deadline(monkeypatch, peer):
    """``getaddrinfo`` blocks as long as the system's resolver likes: a peer's slow DNS
    must not hold a page's thread past the call's own limit."""
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow.test":
            time.sleep(3)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    client = PeerClient(DEVELOPMENT, 0.5)
    started = time.monotonic()
    with pytest.raises(PeerUnavailable):
        client.get_json(f"http://slow.test:{peer.port}/.well-known/trustdesk-node")
    client.close()
    assert time.monotonic() - started < 1.5
    assert peer.hosts == []


def test_a_name_whose_dns_is_dead_makes_no_other_peer_wait(monkeypatch, peer):
    """Many calls to a peer whose lookups hang share one lookup; a healthy peer's name
    is looked up at once beside it (a shared pool of lookup threads, filled with the
    dead name's, made healthy customers time out as unreachable)."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def resolver(host, port, *args, **kwargs):
        lookups.append(host)
        if host == "dead.test":
            time.sleep(3)
        if host == "alive.test":
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    client = PeerClient(DEVELOPMENT, 0.5)
    stuck = [
        threading.Thread(target=_unavailable, args=(client, f"http://dead.test:{peer.port}/x"))
        for _ in range(12)
    ]
    for thread in stuck:
        thread.start()
    started = time.monotonic()
    assert client.get_json(f"http://alive.test:{peer.port}/x") == {"ok": True}
    assert time.monotonic() - started < 0.5
    for thread in stuck:
        thread.join()
    client.close()
    assert lookups.count("dead.test") == 1


def _unavailable(client: PeerClient, url: str) -> None:
    with pytest.raises(PeerUnavailable):
        client.get_json(url)
