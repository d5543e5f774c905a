"""A CA bundle named in the connection's ``verify`` extra is what the clients trust.

A real TLS server on 127.0.0.1 presents a self-signed certificate generated for the test: the
hook's clients connect when ``verify`` names that certificate's file, and refuse the server
with the default trust store.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_provider_polaris.hooks.polaris import PolarisHook

PROJECT = "5d1e6c3a-7b7e-4f0a-9d55-0c1f2e3a4b5c"


def write_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: ``(cert.pem, key.pem)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polaris-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "ca-bundle.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class ProjectHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the test project."""

    def do_GET(self) -> None:
        body = json.dumps({"metadata": {"uid": PROJECT, "name": "TLS project"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(base_url, ca_bundle)`` of an HTTPS server on a free 127.0.0.1 port."""
    cert, key = write_self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ProjectHandler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="tls-server", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _connection(monkeypatch: pytest.MonkeyPatch, base_url: str, **extra: Any) -> PolarisHook:
    conn = {
        "conn_type": "imply_polaris",
        "host": base_url,
        "password": "pok_tls_test_key",
        "extra": {"project_id": PROJECT, "max_retries": 0, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_POLARIS_TLS", json.dumps(conn))
    return PolarisHook("polaris_tls")


def test_ca_bundle_path_reaches_the_sync_client(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, bundle = tls_server
    ok, message = _connection(monkeypatch, base_url, verify=str(bundle)).test_connection()
    assert ok, message
    assert "TLS project" in message


def test_default_trust_store_refuses_the_test_certificate(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, _ = tls_server
    ok, message = _connection(monkeypatch, base_url).test_connection()
    assert not ok
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate" in message.lower()


async def test_ca_bundle_path_reaches_the_async_client(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, bundle = tls_server
    hook = _connection(monkeypatch, base_url, verify=str(bundle))
    client = await hook.get_async_client()
    try:
        project = await client.projects.get()
    finally:
        await hook.aclose()
    assert project["metadata"]["uid"] == PROJECT
