"""Read a live cluster's service-account issuer documents through its API server.

Equivalent to ``kubectl get --raw /.well-known/openid-configuration`` and
``kubectl get --raw /openid/v1/jwks``, with the connection details taken from a kubeconfig.
Only static credentials are supported (client certificate or bearer token): exec and
auth-provider plugins would mean running arbitrary programs during ``pulumi up``.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import requests
import yaml
from urllib3.exceptions import InsecureRequestWarning

from .jwks import KeyMaterialError, validate_jwks

__all__ = [
    "DISCOVERY_PATH",
    "JWKS_PATH",
    "ClusterEndpoint",
    "ClusterFetchError",
    "ClusterIssuerDocuments",
    "IssuerMismatchError",
    "check_discovery_issuer",
    "fetch_cluster_issuer",
    "load_kubeconfig",
]

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
_SNIPPET = 80


class ClusterFetchError(pulumi.RunError):
    """The cluster's issuer documents could not be read.

    The message names the kubeconfig and context (or the URL) and what went wrong:
    unreadable kubeconfig, unreachable server, TLS failure, HTTP status, non-JSON body or a
    document of the wrong shape.
    """


class IssuerMismatchError(ClusterFetchError):
    """The cluster serves a different issuer than the one configured."""


@dataclass(frozen=True)
class ClusterEndpoint:
    """How to reach one cluster's API server, as resolved from a kubeconfig.

    Files named in the kubeconfig are read when it is loaded, so everything here is in
    memory. ``source`` is a label such as ``~/.kube/config (context kind-ci)`` used in errors.
    """

    server: str
    source: str
    ca_pem: bytes | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    insecure: bool = False


@dataclass(frozen=True)
class ClusterIssuerDocuments:
    """The issuer documents a cluster serves; ``jwks`` is normalized by ``validate_jwks``."""

    issuer: str
    discovery: dict[str, Any]
    jwks: dict[str, Any]


def _named(entries: object, name: str, kind: str, source: str) -> dict[str, Any]:
    """Return the ``kind`` entry (cluster, user, context) called ``name`` in a kubeconfig."""
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == name:
                body = entry.get(kind)
                if isinstance(body, dict):
                    return body
                msg = f"{source}: {kind} {name!r} has no {kind!r} mapping"
                raise ClusterFetchError(msg)
    msg = f"{source}: refers to {kind} {name!r}, which is not defined in its {kind}s list"
    raise ClusterFetchError(msg)


def _context_names(config: dict[str, Any]) -> list[str]:
    contexts = config.get("contexts")
    if not isinstance(contexts, list):
        return []
    return [str(c["name"]) for c in contexts if isinstance(c, dict) and "name" in c]


def _material(section: dict[str, Any], key: str, *, base_dir: Path, source: str) -> bytes | None:
    """Read ``<key>-data`` (base64) or ``<key>`` (a path, relative to the kubeconfig)."""
    data = section.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except binascii.Error as exc:
            msg = f"{source}: {key}-data is not valid base64"
            raise ClusterFetchError(msg) from exc
    path = section.get(key)
    if not path:
        return None
    full = base_dir / Path(str(path)).expanduser()
    try:
        return full.read_bytes()
    except OSError as exc:
        msg = f"{source}: {key} file {full} cannot be read ({exc.strerror or exc})"
        raise ClusterFetchError(msg) from exc


def _token(user: dict[str, Any], *, base_dir: Path, source: str) -> str | None:
    if user.get("token"):
        return str(user["token"])
    token_file = user.get("tokenFile")
    if not token_file:
        return None
    full = base_dir / Path(str(token_file)).expanduser()
    try:
        return full.read_text(encoding="utf-8").strip()
    except OSError as exc:
        msg = f"{source}: tokenFile {full} cannot be read ({exc.strerror or exc})"
        raise ClusterFetchError(msg) from exc


def _check_user_supported(user: dict[str, Any], name: str, source: str) -> None:
    for plugin in ("exec", "auth-provider"):
        if user.get(plugin):
            msg = (
                f"{source}: user {name!r} authenticates with an {plugin} plugin, which fluxtrust "
                "does not run; give a kubeconfig whose user has a token (e.g. from "
                "kubectl create token <service account>) or a client certificate"
            )
            raise ClusterFetchError(msg)
    if user.get("username") or user.get("password"):
        msg = (
            f"{source}: user {name!r} uses basic authentication, which is not supported; "
            "give a token or a client certificate"
        )
        raise ClusterFetchError(msg)


def load_kubeconfig(path: Path, context: str | None) -> ClusterEndpoint:
    """Resolve ``context`` (or the current context) of the kubeconfig at ``path``.

    Reads ``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
    ``client-certificate(-data)``/``client-key(-data)`` and ``token``/``tokenFile``; relative
    paths are taken from the kubeconfig's directory. An unknown context (the error lists the
    existing ones), exec or auth-provider users and unreadable files raise
    :class:`ClusterFetchError`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: kubeconfig cannot be read ({exc.strerror or exc})"
        raise ClusterFetchError(msg) from exc
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{path}: kubeconfig is not valid YAML ({exc})"
        raise ClusterFetchError(msg) from exc
    if not isinstance(config, dict):
        msg = f"{path}: not a kubeconfig (expected a YAML mapping with clusters/users/contexts)"
        raise ClusterFetchError(msg)

    names = _context_names(config)
    chosen = context or config.get("current-context")
    if not chosen:
        msg = (
            f"{path}: no context given and no current-context set; "
            f"contexts there: {', '.join(names) or '(none)'}"
        )
        raise ClusterFetchError(msg)
    if chosen not in names:
        msg = (
            f"{path}: context {chosen!r} not found; contexts there: {', '.join(names) or '(none)'}"
        )
        raise ClusterFetchError(msg)
    source = f"{path} (context {chosen})"
    ctx = _named(config.get("contexts"), str(chosen), "context", source)

    if not ctx.get("cluster"):
        msg = f"{source}: the context names no cluster"
        raise ClusterFetchError(msg)
    cluster = _named(config.get("clusters"), str(ctx["cluster"]), "cluster", source)
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        msg = f"{source}: cluster server {server!r} is not an http(s) URL"
        raise ClusterFetchError(msg)
    base_dir = path.parent

    user: dict[str, Any] = {}
    user_name = ctx.get("user")
    if user_name:
        user = _named(config.get("users"), str(user_name), "user", source)
        _check_user_supported(user, str(user_name), source)
    cert = _material(user, "client-certificate", base_dir=base_dir, source=source)
    key = _material(user, "client-key", base_dir=base_dir, source=source)
    if (cert is None) != (key is None):
        msg = f"{source}: user {user_name!r} has a client certificate or key but not both"
        raise ClusterFetchError(msg)

    return ClusterEndpoint(
        server=server.rstrip("/"),
        source=source,
        ca_pem=_material(cluster, "certificate-authority", base_dir=base_dir, source=source),
        client_cert_pem=cert,
        client_key_pem=key,
        token=_token(user, base_dir=base_dir, source=source),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )


def _write_private(directory: str, name: str, data: bytes) -> str:
    """Write ``data`` to a file readable by this user only (it may be a private key)."""
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET else flat[:_SNIPPET] + "..."


@dataclass(frozen=True)
class _Tls:
    verify: bool | str
    cert: tuple[str, str] | None
    timeout: float


def _get_json(
    session: requests.Session, url: str, *, endpoint: ClusterEndpoint, tls: _Tls
) -> object:
    where = f"{url} ({endpoint.source})"
    timeout = tls.timeout
    try:
        response = session.get(
            url,
            timeout=timeout,
            verify=tls.verify,
            cert=tls.cert,
            headers={"Accept": "application/json"},
        )
    except requests.exceptions.SSLError as exc:
        msg = (
            f"{where}: TLS failure, the server certificate was not accepted ({exc}); check "
            "certificate-authority(-data) in the kubeconfig"
        )
        raise ClusterFetchError(msg) from exc
    except requests.exceptions.Timeout as exc:
        msg = f"{where}: no answer within {timeout:g} s"
        raise ClusterFetchError(msg) from exc
    except requests.exceptions.ConnectionError as exc:
        msg = f"{where}: unreachable ({exc})"
        raise ClusterFetchError(msg) from exc
    except requests.exceptions.RequestException as exc:
        msg = f"{where}: request failed ({exc})"
        raise ClusterFetchError(msg) from exc
    if response.status_code != requests.codes.ok:
        hint = ""
        if response.status_code in (requests.codes.unauthorized, requests.codes.forbidden):
            hint = (
                "; the user needs read access to the issuer documents (ClusterRole "
                "system:service-account-issuer-discovery)"
            )
        msg = f"{where}: HTTP {response.status_code} {response.reason}{hint}"
        raise ClusterFetchError(msg)
    try:
        return response.json()
    except ValueError as exc:
        content_type = response.headers.get("Content-Type", "no content type")
        msg = (
            f"{where}: answer is not JSON ({content_type}; starts with {_snippet(response.text)!r})"
        )
        raise ClusterFetchError(msg) from exc


def fetch_cluster_issuer(
    endpoint: ClusterEndpoint, *, timeout: float = 10.0
) -> ClusterIssuerDocuments:
    """GET the discovery document and JWKS from the cluster's API server.

    Verifies TLS against the kubeconfig's CA (or the system trust store when it has none;
    not at all if it says ``insecure-skip-tls-verify``), presents the client certificate or
    ``Authorization: Bearer`` token, and validates the JWKS with
    :func:`fluxtrust.jwks.validate_jwks`. Every failure raises :class:`ClusterFetchError`
    naming the URL, kubeconfig and context.
    """
    # requests only takes certificates and keys as file paths; the directory (and the
    # private key in it) is removed as soon as both documents are read.
    with tempfile.TemporaryDirectory(prefix="fluxtrust-") as tmp, requests.Session() as session:
        # verify and cert go on each request, not on the session: requests lets
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session-level verify.
        verify: bool | str = True
        if endpoint.insecure:
            verify = False
        elif endpoint.ca_pem is not None:
            verify = _write_private(tmp, "ca.pem", endpoint.ca_pem)
        cert: tuple[str, str] | None = None
        if endpoint.client_cert_pem is not None and endpoint.client_key_pem is not None:
            cert = (
                _write_private(tmp, "client.crt", endpoint.client_cert_pem),
                _write_private(tmp, "client.key", endpoint.client_key_pem),
            )
        if endpoint.token:
            session.headers["Authorization"] = f"Bearer {endpoint.token}"
        tls = _Tls(verify=verify, cert=cert, timeout=timeout)
        with warnings.catch_warnings():
            # The kubeconfig asked for no verification; warning on every request adds nothing.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            discovery_url = endpoint.server + DISCOVERY_PATH
            discovery = _get_json(session, discovery_url, endpoint=endpoint, tls=tls)
            jwks_url = endpoint.server + JWKS_PATH
            raw_jwks = _get_json(session, jwks_url, endpoint=endpoint, tls=tls)

    if not isinstance(discovery, dict) or not isinstance(discovery.get("issuer"), str):
        msg = (
            f"{discovery_url} ({endpoint.source}): wrong shape, expected a JSON object with a "
            f"string 'issuer'; got {_snippet(str(discovery))!r}"
        )
        raise ClusterFetchError(msg)
    if not isinstance(discovery.get("jwks_uri"), str):
        msg = f"{discovery_url} ({endpoint.source}): wrong shape, no string 'jwks_uri'"
        raise ClusterFetchError(msg)
    try:
        jwks = validate_jwks(raw_jwks, source=f"{jwks_url} ({endpoint.source})")
    except KeyMaterialError as exc:
        # One error type for every way the fetch can fail keeps callers simple.
        raise ClusterFetchError(str(exc)) from exc
    return ClusterIssuerDocuments(issuer=discovery["issuer"], discovery=discovery, jwks=jwks)


def check_discovery_issuer(
    documents: ClusterIssuerDocuments, expected_issuer: str, *, source: str
) -> None:
    """Raise :class:`IssuerMismatchError` unless the cluster serves ``expected_issuer``.

    Verifiers compare the token's ``iss`` with the configured issuer byte for byte, so any
    difference breaks federation; a difference in the trailing slash alone is pointed out.
    """
    actual = documents.issuer
    if actual == expected_issuer:
        return
    msg = (
        f"{source}: the cluster serves issuer {actual!r} but {expected_issuer!r} is "
        "configured; they must be equal byte for byte"
    )
    if actual.rstrip("/") == expected_issuer.rstrip("/"):
        msg += " (they differ only by a trailing slash, which makes a different issuer)"
    raise IssuerMismatchError(msg)
