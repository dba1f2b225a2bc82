"""esi.http.deadline on its own: nested limits, no time left, and TLS (the ESI and EVE SSO
sessions use it over HTTPS in production; the other tests run on plain HTTP)."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from esi.http import deadline

from ..servers import Server, answer, trickle


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.mount("http://", deadline.DeadlineAdapter())
        s.mount("https://", deadline.DeadlineAdapter())
        yield s


def test_an_exchange_is_cut_at_the_deadline(session):
    with Server(trickle(answer(b"[" + b"1," * 40 + b"1]"), 0.05)) as server:
        started = time.monotonic()
        with pytest.raises(deadline.DeadlineExceeded), deadline.limit(0.4):
            session.get(server.url, timeout=(1, 1))
        assert time.monotonic() - started < 2.5


def test_the_shorter_of_nested_limits_applies(session):
    with Server(trickle(answer(b"[" + b"1," * 40 + b"1]"), 0.05)) as server:
        started = time.monotonic()
        with pytest.raises(deadline.DeadlineExceeded), deadline.limit(0.3), deadline.limit(30):
            assert deadline.remaining() <= 0.3
            session.get(server.url, timeout=(1, 1))
        assert time.monotonic() - started < 2.5
    assert deadline.remaining() is None


def test_no_time_left_sends_nothing(session):
    with Server(trickle(answer(b"[]"), 0)) as server:
        with pytest.raises(deadline.DeadlineExceeded, match="no time left"), deadline.limit(0):
            session.get(server.url)
        assert server.connections == 0


def test_outside_a_limit_nothing_is_cut(session):
    with Server(trickle(answer(b"[1]"), 0.01)) as server:
        assert session.get(server.url, timeout=(1, 1)).json() == [1]


def test_a_non_http_error_in_the_block_is_left_alone():
    with pytest.raises(KeyError), deadline.limit(5):
        raise KeyError("x")


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[str, socket.socket, str]]:
    """A TLS listener on loopback with a self-signed certificate for 127.0.0.1:
    ``(url, socket, certificate file)``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = context.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True)
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", listener, str(tmp_path / "cert.pem")
    listener.close()


def test_an_exchange_over_tls_is_cut_at_the_deadline(session, tls):
    url, listener, certificate = tls
    body = answer(b"[" + b"1," * 40 + b"1]")

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                for byte in body:
                    connection.sendall(bytes([byte]))
                    time.sleep(0.05)
            except OSError:  # the client cut the connection at its deadline
                pass

    threading.Thread(target=serve, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(deadline.DeadlineExceeded), deadline.limit(0.5):
        session.get(url, timeout=(1, 1), verify=certificate)
    assert time.monotonic() - started < 3
