"""Fixtures for the outbound guard and the peer client: a resolver the test scripts, and
real peers on loopback (plain HTTP, or TLS with a certificate for a name)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Answer = str | tuple[str, ...] | None  # one address, several, or "does not resolve"


class ScriptedDns:
    """Names a test scripts answer with the addresses given, one answer per lookup in
    turn (the last one repeats); every other name, and every address literal, goes to
    the real resolver. ``lookups`` lists the scripted names looked up, in order."""

    def __init__(self, real: Callable[..., list]) -> None:
        self._real = real
        self._answers: dict[str, list[Answer]] = {}
        self.lookups: list[str] = []

    def answer(self, name: str, *answers: Answer) -> None:
        self._answers[name] = list(answers)

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self._answers:
            return self._real(host, port, family, type, proto, flags)
        self.lookups.append(name)
        queue = self._answers[name]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = (answer,) if isinstance(answer, str) else answer
        return [
            info
            for address in addresses
            for info in self._real(address, port, family, type, proto, socket.AI_NUMERICHOST)
        ]


@pytest.fixture
def dns(monkeypatch) -> ScriptedDns:
    scripted = ScriptedDns(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", scripted)
    return scripted


class Peer(ThreadingHTTPServer):
    """A node on 127.0.0.1 that answers every GET with ``{"ok": true}`` and notes the
    connections it accepted, the Host of each request and the TLS server names asked."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.hosts: list[str] = []
        self.server_names: list[str | None] = []
        super().__init__(("127.0.0.1", 0), _Answer)
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _context: self.server_names.append(name)
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]

    def verify_request(self, request, client_address) -> bool:
        self.connections += 1
        return True


class _Answer(BaseHTTPRequestHandler):
    server: Peer
    protocol_version = "HTTP/1.1"  # keeps connections alive, as nodes do

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers["Host"])
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


@contextmanager
def _serving(peer: Peer) -> Iterator[Peer]:
    thread = threading.Thread(target=peer.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.shutdown()
        peer.server_close()
        thread.join()


@pytest.fixture
def peer() -> Iterator[Peer]:
    with _serving(Peer()) as serving:
        yield serving


@pytest.fixture
def tls_peer(tmp_path) -> Iterator[Callable[[str], tuple[Peer, ssl.SSLContext]]]:
    """``tls_peer(name)``: a peer whose certificate is for ``name`` only (no address in
    it), and a client TLS context that trusts that certificate."""
    with ExitStack() as started:

        def start(name: str) -> tuple[Peer, ssl.SSLContext]:
            certificate, key = _self_signed(name, tmp_path)
            server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server.load_cert_chain(certificate, key)
            serving = started.enter_context(_serving(Peer(server)))
            return serving, ssl.create_default_context(cafile=str(certificate))

        yield start


def _self_signed(name: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path
