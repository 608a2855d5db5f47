"""Tests for fluxtrust.cluster_api against a local HTTPS server with its own CA."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from fluxtrust.cluster_api import (
    ClusterEndpoint,
    ClusterFetchError,
    ClusterIssuerDocuments,
    IssuerMismatchError,
    check_discovery_issuer,
    fetch_cluster_issuer,
    load_kubeconfig,
)
from fluxtrust.jwks import discovery_document, jwk_from_public_key, jwks_uri_for
from tls_server import LocalServer, free_port

ISSUER = "https://example.test/clusters/ci"
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/openid/v1/jwks"


@pytest.fixture(scope="module")
def jwks() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"keys": [jwk_from_public_key(key.public_key(), source="test")]}


@pytest.fixture
def server(jwks: dict[str, Any]) -> Iterator[LocalServer]:
    """An HTTPS server that serves a cluster's issuer documents correctly."""
    with LocalServer() as local:
        local.set_json(DISCOVERY, discovery_document(ISSUER, jwks_uri_for(ISSUER), jwks))
        local.set_json(JWKS, jwks)
        yield local


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_kubeconfig(
    directory: Path,
    server_url: str,
    *,
    cluster: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
    contexts: tuple[str, ...] = ("kind-ci",),
) -> Path:
    """Write a kubeconfig whose contexts all point at server_url; the first is current."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0],
        "clusters": [{"name": "c", "cluster": {"server": server_url, **(cluster or {})}}],
        "users": [{"name": "u", "user": user or {}}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in contexts],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def endpoint_for(local: LocalServer, **fields: Any) -> ClusterEndpoint:
    """An endpoint trusting the local server's CA, built without a kubeconfig."""
    return ClusterEndpoint(server=local.base_url, source="test", ca_pem=local.ca_pem, **fields)


# ---------------------------------------------------------------- kubeconfig


def test_load_kubeconfig_current_context_with_data(tmp_path: Path) -> None:
    """The current context's server, base64 CA data and token are read."""
    path = write_kubeconfig(
        tmp_path,
        "https://127.0.0.1:6443/",
        cluster={"certificate-authority-data": b64(b"CA PEM")},
        user={"token": "abc"},
    )

    endpoint = load_kubeconfig(path, None)

    assert endpoint.server == "https://127.0.0.1:6443"
    assert (endpoint.ca_pem, endpoint.token, endpoint.insecure) == (b"CA PEM", "abc", False)
    assert endpoint.source == f"{path} (context kind-ci)"


def test_load_kubeconfig_relative_files(tmp_path: Path) -> None:
    """File paths are read relative to the kubeconfig's directory."""
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "client.crt").write_bytes(b"CERT")
    (tmp_path / "client.key").write_bytes(b"KEY")
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    user = {"client-certificate": "client.crt", "client-key": "client.key", "tokenFile": "token"}
    path = write_kubeconfig(
        tmp_path, "https://h:1", cluster={"certificate-authority": "ca.crt"}, user=user
    )

    endpoint = load_kubeconfig(path, "kind-ci")

    assert endpoint.ca_pem == b"CA"
    assert (endpoint.client_cert_pem, endpoint.client_key_pem) == (b"CERT", b"KEY")
    assert endpoint.token == "from-file"


def test_load_kubeconfig_unknown_context_lists_contexts(tmp_path: Path) -> None:
    """An unknown context is refused, listing the contexts that exist."""
    path = write_kubeconfig(tmp_path, "https://h:1", contexts=("kind-ci", "prod"))

    expected = "context 'staging' not found; contexts there: kind-ci, prod"

    with pytest.raises(ClusterFetchError, match=expected):
        load_kubeconfig(path, "staging")


def test_load_kubeconfig_exec_plugin_refused(tmp_path: Path) -> None:
    """An exec credential plugin is refused with a hint to use a token."""
    path = write_kubeconfig(tmp_path, "https://h:1", user={"exec": {"command": "aws"}})

    with pytest.raises(ClusterFetchError, match=r"exec plugin.*token"):
        load_kubeconfig(path, None)


def test_load_kubeconfig_missing_ca_file_refused(tmp_path: Path) -> None:
    """A certificate-authority file that does not exist is named."""
    path = write_kubeconfig(tmp_path, "https://h:1", cluster={"certificate-authority": "no.crt"})

    with pytest.raises(ClusterFetchError, match=r"certificate-authority file .*no\.crt cannot"):
        load_kubeconfig(path, None)


def test_load_kubeconfig_missing_file_refused(tmp_path: Path) -> None:
    """A kubeconfig that does not exist is named."""
    path = tmp_path / "absent"

    with pytest.raises(ClusterFetchError, match="absent: kubeconfig cannot be read"):
        load_kubeconfig(path, None)


# ---------------------------------------------------------------- fetching


def test_fetch_with_ca_data_from_kubeconfig(
    tmp_path: Path, server: LocalServer, jwks: dict[str, Any]
) -> None:
    """With the CA from the kubeconfig, both documents are fetched and the JWKS validated."""
    path = write_kubeconfig(
        tmp_path, server.base_url, cluster={"certificate-authority-data": b64(server.ca_pem)}
    )

    documents = fetch_cluster_issuer(load_kubeconfig(path, None), timeout=5)

    assert documents.issuer == ISSUER
    assert documents.discovery["jwks_uri"] == jwks_uri_for(ISSUER)
    assert documents.jwks == jwks
    assert [r.path for r in server.requests] == [DISCOVERY, JWKS]


def test_fetch_sends_bearer_token(tmp_path: Path, server: LocalServer) -> None:
    """The kubeconfig token reaches the server as an Authorization: Bearer header."""
    path = write_kubeconfig(
        tmp_path,
        server.base_url,
        cluster={"certificate-authority-data": b64(server.ca_pem)},
        user={"token": "s3cret"},
    )

    fetch_cluster_issuer(load_kubeconfig(path, None), timeout=5)

    assert [r.headers.get("Authorization") for r in server.requests] == ["Bearer s3cret"] * 2


def test_fetch_with_client_certificate(tmp_path: Path, jwks: dict[str, Any]) -> None:
    """A client certificate from kubeconfig data is presented to the server."""
    with LocalServer(client_auth=True) as local:
        local.set_json(DISCOVERY, discovery_document(ISSUER, jwks_uri_for(ISSUER), jwks))
        local.set_json(JWKS, jwks)
        cert_pem, key_pem = local.ca.issue_client_cert("flux-admin")
        user = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
        cluster = {"certificate-authority-data": b64(local.ca_pem)}
        path = write_kubeconfig(tmp_path, local.base_url, cluster=cluster, user=user)

        fetch_cluster_issuer(load_kubeconfig(path, None), timeout=5)

        assert [r.client_cn for r in local.requests] == ["flux-admin", "flux-admin"]


def test_fetch_under_server_path_prefix(jwks: dict[str, Any]) -> None:
    """A server URL with a path (e.g. behind a proxy) keeps its path."""
    with LocalServer() as local:
        discovery = discovery_document(ISSUER, jwks_uri_for(ISSUER), jwks)
        local.set_json("/k8s/c1" + DISCOVERY, discovery)
        local.set_json("/k8s/c1" + JWKS, jwks)
        endpoint = ClusterEndpoint(server=local.url("/k8s/c1"), source="t", ca_pem=local.ca_pem)

        documents = fetch_cluster_issuer(endpoint, timeout=5)

    assert documents.issuer == ISSUER


def test_fetch_wrong_ca_is_tls_error(jwks: dict[str, Any]) -> None:
    """A server certificate from another CA fails with a TLS/certificate error."""
    with LocalServer(untrusted=True) as local:
        local.set_json(DISCOVERY, {"issuer": ISSUER})
        endpoint = endpoint_for(local)

        with pytest.raises(ClusterFetchError, match=r"configuration \(test\): TLS failure.*certif"):
            fetch_cluster_issuer(endpoint, timeout=5)


def test_fetch_insecure_skips_verification(jwks: dict[str, Any]) -> None:
    """insecure-skip-tls-verify accepts a certificate from an unknown CA."""
    with LocalServer(untrusted=True) as local:
        local.set_json(DISCOVERY, discovery_document(ISSUER, jwks_uri_for(ISSUER), jwks))
        local.set_json(JWKS, jwks)
        endpoint = ClusterEndpoint(server=local.base_url, source="t", insecure=True)

        documents = fetch_cluster_issuer(endpoint, timeout=5)

    assert documents.issuer == ISSUER


def test_fetch_http_404(server: LocalServer) -> None:
    """An HTTP error status is reported with the URL."""
    server.set_route(JWKS, 404, b"404 page not found")
    endpoint = endpoint_for(server)

    with pytest.raises(ClusterFetchError, match=r"/openid/v1/jwks \(test\): HTTP 404"):
        fetch_cluster_issuer(endpoint, timeout=5)


def test_fetch_http_403_hints_at_rbac(server: LocalServer) -> None:
    """A 403 names the ClusterRole that grants access to the issuer documents."""
    server.set_route(DISCOVERY, 403, b'{"kind":"Status"}', {"Content-Type": "application/json"})
    endpoint = endpoint_for(server)

    with pytest.raises(ClusterFetchError, match=r"HTTP 403.*service-account-issuer-discovery"):
        fetch_cluster_issuer(endpoint, timeout=5)


def test_fetch_non_json_body(server: LocalServer) -> None:
    """A body that is not JSON is reported with its content type and start."""
    server.set_route(DISCOVERY, 200, b"<html>login</html>", {"Content-Type": "text/html"})
    endpoint = endpoint_for(server)

    with pytest.raises(ClusterFetchError, match=r"not JSON \(text/html; starts with '<html>login"):
        fetch_cluster_issuer(endpoint, timeout=5)


def test_fetch_unreachable_port() -> None:
    """A port where nothing listens is reported as unreachable."""
    endpoint = ClusterEndpoint(server=f"https://127.0.0.1:{free_port()}", source="test")

    with pytest.raises(
        ClusterFetchError, match=r"^https://127\.0\.0\.1:\d+/\.well-known/.* unreachable"
    ):
        fetch_cluster_issuer(endpoint, timeout=5)


def test_fetch_timeout(server: LocalServer) -> None:
    """A server slower than the timeout is reported as not answering."""
    server.set_route(DISCOVERY, 200, b"{}", delay=1.0)
    endpoint = endpoint_for(server)

    with pytest.raises(ClusterFetchError, match=r"no answer within 0\.2 s"):
        fetch_cluster_issuer(endpoint, timeout=0.2)


def test_fetch_jwks_with_private_member(server: LocalServer, jwks: dict[str, Any]) -> None:
    """A JWKS holding a private member is refused, naming the URL."""
    server.set_json(JWKS, {"keys": [{**jwks["keys"][0], "d": "AQAB"}]})
    endpoint = endpoint_for(server)

    with pytest.raises(ClusterFetchError, match=r"(?s)jwks \(test\): invalid JWKS.*private member"):
        fetch_cluster_issuer(endpoint, timeout=5)


def test_fetch_discovery_wrong_shape(server: LocalServer) -> None:
    """A discovery document without a string issuer is refused."""
    server.set_json(DISCOVERY, {"issuer": 42})
    endpoint = endpoint_for(server)

    with pytest.raises(ClusterFetchError, match=r"wrong shape.*'issuer'"):
        fetch_cluster_issuer(endpoint, timeout=5)


# ---------------------------------------------------------------- issuer check


def documents_with_issuer(issuer: str) -> ClusterIssuerDocuments:
    return ClusterIssuerDocuments(issuer=issuer, discovery={"issuer": issuer}, jwks={"keys": []})


def test_check_issuer_equal_passes() -> None:
    """The same issuer byte for byte passes."""
    documents = documents_with_issuer(ISSUER)

    check_discovery_issuer(documents, ISSUER, source="kind-ci")  # raises on any difference


def test_check_issuer_mismatch_refused() -> None:
    """A different issuer is refused, naming both."""
    documents = documents_with_issuer("https://kubernetes.default.svc.cluster.local")

    with pytest.raises(
        IssuerMismatchError,
        match=r"^kind-ci: the cluster serves issuer 'https://kubernetes\.default",
    ):
        check_discovery_issuer(documents, ISSUER, source="kind-ci")


def test_check_issuer_trailing_slash_pointed_out() -> None:
    """When only a trailing slash differs, the error says so."""
    documents = documents_with_issuer(ISSUER + "/")

    with pytest.raises(ClusterFetchError, match="differ only by a trailing slash"):
        check_discovery_issuer(documents, ISSUER, source="kind-ci")
