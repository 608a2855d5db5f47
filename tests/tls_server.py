"""A throwaway HTTPS (or HTTP) server on 127.0.0.1 for tests, with its own certificate authority.

Not a test module: import it from tests that need a real TLS endpoint without the internet.

    from tls_server import LocalServer  # tests/ is on sys.path under pytest

    with LocalServer({"/hello": (200, {"Content-Type": "text/plain"}, b"hi")}) as server:
        requests.get(server.url("/hello"), verify=str(server.ca_bundle_path))
        server.set_route("/slow", 200, b"late", delay=2.0)
        assert server.requests[0].headers["Host"]

API (kept small on purpose):

- ``LocalServer(routes=None, *, scheme="https", untrusted=False, client_auth=False)``:
  ``routes`` maps a path (query string ignored) to ``(status, headers, body)`` or
  ``(status, headers, body, delay_seconds)``; unknown paths answer 404.
  ``untrusted=True`` serves a certificate signed by another CA than the one in
  ``ca_bundle_path`` (for invalid-certificate tests). ``client_auth=True`` asks clients for
  a certificate signed by the server's CA and records its common name.
- ``base_url``, ``url(path)``, ``ca_bundle_path`` (PEM file of the CA), ``ca_pem`` (bytes).
- ``set_route(path, status, body, headers=None, delay=0.0)``, ``set_json(path, document,
  status=200)``, ``requests`` (list of :class:`RecordedRequest`, oldest first).
- ``ca.issue_client_cert(name)`` returns ``(cert_pem, key_pem)`` for mutual-TLS tests.
- ``free_port()``: a port on 127.0.0.1 that nothing listens on (for "unreachable" tests).

Certificates use EC P-256 keys so that creating a server costs milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LocalCA", "LocalServer", "RecordedRequest", "Route", "free_port"]

Route = tuple[int, Mapping[str, str], bytes] | tuple[int, Mapping[str, str], bytes, float]
"""``(status, headers, body)`` or ``(status, headers, body, delay_seconds)``."""

_HOST = "127.0.0.1"


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class LocalCA:
    """A certificate authority that exists only for one test run."""

    def __init__(self, name: str = "fluxtrust test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        public_key = self._key.public_key()
        self.cert = (
            self._builder(subject, public_key)
            .issuer_name(subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem: bytes = self.cert.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def _builder(
        subject: x509.Name, public_key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    def _issue(
        self, name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            self._builder(subject, key.public_key())
            .issuer_name(self.cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def issue_server_cert(self) -> tuple[bytes, bytes]:
        """Return ``(cert_pem, key_pem)`` valid for 127.0.0.1 and localhost."""
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address(_HOST)),
        ]
        return self._issue("localhost", ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def issue_client_cert(self, name: str) -> tuple[bytes, bytes]:
        """Return ``(cert_pem, key_pem)`` of a client certificate with common name ``name``."""
        return self._issue(name, ExtendedKeyUsageOID.CLIENT_AUTH, [])


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered (or tried to)."""

    method: str
    path: str
    headers: dict[str, str]
    client_cn: str | None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the request's own thread, so a client that
        # refuses our certificate cannot stall the accept loop.
        context = self.owner._tls_context
        if context is not None:
            try:
                request = context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-request (timeouts under test) are expected; stay quiet.
        return


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _client_cn(self) -> str | None:
        getpeercert = getattr(self.connection, "getpeercert", None)
        if getpeercert is None:
            return None
        cert = getpeercert()
        if not cert:
            return None
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return str(value)
        return None

    def _answer(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner._record(
            RecordedRequest(self.command, path, dict(self.headers.items()), self._client_cn())
        )
        route = owner._route(path)
        status, headers, body = route[0], route[1], route[2]
        delay = route[3] if len(route) == 4 else 0.0
        if delay:
            time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # http.server dispatches to do_<METHOD>, hence the upper-case names.
    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()


class LocalServer:
    """HTTPS (default) or HTTP server on 127.0.0.1 in a background thread; see module doc."""

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        scheme: Literal["https", "http"] = "https",
        untrusted: bool = False,
        client_auth: bool = False,
    ) -> None:
        self.scheme = scheme
        self.ca = LocalCA()
        self.ca_pem = self.ca.cert_pem
        self._routes: dict[str, Route] = dict(routes or {})
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._untrusted = untrusted
        self._client_auth = client_auth
        self._tls_context: ssl.SSLContext | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.ca_bundle_path = Path()
        self.base_url = ""

    def _make_tls_context(self, directory: Path) -> ssl.SSLContext:
        # An untrusted server presents a certificate from a CA nobody was told about.
        signer = LocalCA("impostor CA") if self._untrusted else self.ca
        cert_pem, key_pem = signer.issue_server_cert()
        cert_file = directory / "server.crt"
        key_file = directory / "server.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        if self._client_auth:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=self.ca_pem.decode("ascii"))
        return context

    def start(self) -> Self:
        """Bind a free port and serve in a daemon thread; returns ``self``."""
        self._tmp = tempfile.TemporaryDirectory(prefix="fluxtrust-tls-")
        directory = Path(self._tmp.name)
        self.ca_bundle_path = directory / "ca.pem"
        self.ca_bundle_path.write_bytes(self.ca_pem)
        if self.scheme == "https":
            self._tls_context = self._make_tls_context(directory)
        self._httpd = _Server((_HOST, 0), _Handler)
        self._httpd.owner = self
        port = self._httpd.server_address[1]
        self.base_url = f"{self.scheme}://{_HOST}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the certificate files."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """Return ``base_url + path``."""
        return self.base_url + path

    def set_route(
        self,
        path: str,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve ``body`` with ``status`` at ``path`` from now on, after ``delay`` seconds."""
        with self._lock:
            self._routes[path] = (status, dict(headers or {}), body, delay)

    def set_json(self, path: str, document: object, status: int = 200) -> None:
        """Serve ``document`` as ``application/json`` at ``path``."""
        body = json.dumps(document).encode("utf-8")
        self.set_route(path, status, body, {"Content-Type": "application/json"})

    def _route(self, path: str) -> Route:
        with self._lock:
            return self._routes.get(path, (404, {"Content-Type": "text/plain"}, b"not found"))

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
