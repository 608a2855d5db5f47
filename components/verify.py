"""`fluxtrust verify`: check, anonymously, what the clouds will see when they verify a token.

A cloud's STS verifies a Kubernetes service-account token by fetching, without credentials,
``<issuer>/.well-known/openid-configuration`` and then the JWKS at its ``jwks_uri``. This module
makes the same requests for every issuer a stack trusts and reports each thing that would make
the exchange fail, with its fix. It also compares the keys fluxtrust declared, the keys actually
published and the keys the live cluster signs with, because a rotated signing key that was not
re-published breaks every cloud's trust at once.

Three layers, so that the judgement is testable without a network:

- pure evaluators turn one fetched answer (or document) into a :class:`CheckResult`;
- :func:`fetch` is the thin HTTP layer (``requests``, no redirects, per-request TLS settings);
- :func:`verify_stack` runs the checks over a parsed :class:`~fluxtrust.config.StackConfig`.

Nothing here prints: :meth:`VerifyReport.render_text` and :meth:`VerifyReport.to_json` return
the report and the command line writes it.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit

import requests

from .cluster_api import ClusterFetchError, fetch_cluster_issuer, load_kubeconfig
from .config import (
    CONFIG_NAMESPACE,
    ClusterConfig,
    IssuerHost,
    IssuerLookup,
    JwksFile,
    JwksFromCluster,
    JwksGenerate,
    JwksPublicKeys,
    StackConfig,
    load_stack_file,
    parse_stack_config,
)
from .errors import ConfigError, ConfigProblem
from .issuer_urls import static_issuer_url
from .jwks import (
    KeyMaterialError,
    jwks_from_public_key_files,
    load_jwks_file,
    signing_algorithms,
    validate_jwks,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "CheckResult",
    "ClusterReport",
    "FetchOptions",
    "HttpAnswer",
    "HttpFailure",
    "Publisher",
    "Status",
    "VerifyReport",
    "discovery_url",
    "evaluate_algorithms",
    "evaluate_cluster_issuer",
    "evaluate_cluster_keys",
    "evaluate_content_type",
    "evaluate_declared_keys",
    "evaluate_fetch",
    "evaluate_issuer",
    "evaluate_jwks",
    "evaluate_jwks_uri",
    "fetch",
    "load_outputs",
    "verify_stack",
    "verify_stack_file",
]

DEFAULT_TIMEOUT = 5.0
"""Seconds to wait for each document: AWS STS gives up on a discovery fetch after about 5 s."""

MAX_DOCUMENT_BYTES = 1024 * 1024
"""A discovery document or JWKS is a few kilobytes; anything past this is not one."""

DEFAULT_KUBECONFIG = Path("~/.kube/config")

Status: TypeAlias = Literal["pass", "fail", "warn", "skip"]
"""``warn`` and ``skip`` do not fail the run; ``fail`` does."""

Publisher: TypeAlias = Literal["fluxtrust", "cloud", "user"]
"""Who publishes an issuer's documents, which decides the fix we suggest."""

# Members only a private JWK carries ("k" is the secret of a symmetric key). Finding one in a
# published JWKS means the signing key itself is public, which changes the fix.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_JSON_TYPES = ("application/json",)
# RFC 7517's media type; the Kubernetes API server serves its JWKS with it.
_JWKS_TYPES = ("application/json", "application/jwk-set+json")
_SNIPPET = 60


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class CheckResult:
    """One check on one issuer (or on the cluster): its outcome, why, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    issuer: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"name", "status", "detail", "fix", "issuer"}``."""
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "issuer": self.issuer,
        }


def _pass(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "pass", detail)


def _fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, "fail", detail, fix)


def _skip(name: str, detail: str) -> CheckResult:
    return CheckResult(name, "skip", detail)


def _worst(statuses: Iterable[Status]) -> Status:
    found = set(statuses)
    for status in ("fail", "warn", "pass"):
        if status in found:
            return status
    return "skip"


@dataclass(frozen=True)
class ClusterReport:
    """Every check run for one cluster, in report order."""

    cluster: str
    issuers: tuple[str, ...]
    checks: tuple[CheckResult, ...]

    @property
    def status(self) -> Status:
        """``fail`` if any check failed, else ``warn``, ``pass``, or ``skip`` if nothing ran."""
        return _worst(check.status for check in self.checks)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``fluxtrust verify`` for one stack."""

    stack: str
    clusters: tuple[ClusterReport, ...]

    @property
    def failed(self) -> bool:
        """True when at least one check failed (warnings and skips do not count)."""
        return any(c.status == "fail" for c in self.clusters)

    @property
    def exit_status(self) -> int:
        """0 when nothing failed, 1 otherwise."""
        return 1 if self.failed else 0

    def counts(self) -> dict[Status, int]:
        """How many checks ended in each status."""
        counts: dict[Status, int] = {"pass": 0, "fail": 0, "warn": 0, "skip": 0}
        for cluster in self.clusters:
            for check in cluster.checks:
                counts[check.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """One object: ``{"stack", "status", "counts", "clusters": {name: {"status",
        "issuers", "checks": [...]}}}``."""
        return {
            "stack": self.stack,
            "status": "fail" if self.failed else "pass",
            "counts": self.counts(),
            "clusters": {
                c.cluster: {
                    "status": c.status,
                    "issuers": list(c.issuers),
                    "checks": [check.to_json() for check in c.checks],
                }
                for c in self.clusters
            },
        }

    def dumps(self) -> str:
        """:meth:`to_json` as indented JSON text, newline-terminated."""
        return json.dumps(self.to_json(), indent=2) + "\n"

    def render_text(self) -> str:
        """The readable report: per cluster, per issuer, one line per check, fixes below."""
        lines = [f"fluxtrust verify: stack {self.stack}"]
        width = max((len(check.name) for c in self.clusters for check in c.checks), default=0)
        for cluster in self.clusters:
            lines.append("")
            lines.append(f"cluster {cluster.cluster}: {cluster.status.upper()}")
            group: str | None = None
            for check in cluster.checks:
                heading = _heading(check, cluster.issuers)
                if heading != group:
                    group = heading
                    lines.append(f"  {heading}")
                lines.append(
                    f"    {check.status.upper():<4}  {check.name:<{width}}  {check.detail}"
                )
                if check.fix:
                    lines.append(f"    {'':<4}  {'':<{width}}  fix: {check.fix}")
        counts = self.counts()
        lines.append("")
        lines.append(
            f"{'FAIL' if self.failed else 'PASS'}: {counts['fail']} failed, {counts['pass']} "
            f"passed, {counts['warn']} warning(s), {counts['skip']} skipped"
        )
        return "\n".join(lines) + "\n"


def _heading(check: CheckResult, issuers: Sequence[str]) -> str:
    """The report section a check belongs to: one per issuer, then the drift checks."""
    if check.name.startswith("drift."):
        return "drift: declared keys, published keys and the live cluster"
    if check.issuer is None or not issuers:
        return "issuer"
    role = "current" if check.issuer == issuers[0] else "previous"
    return f"issuer {check.issuer} ({role})"


# --------------------------------------------------------------------------------------------
# The HTTP layer


@dataclass(frozen=True)
class FetchOptions:
    """How documents are fetched.

    Attributes:
        timeout: seconds to wait for each document (connect, each read, and the whole answer).
        ca_bundle: a PEM file of CA certificates to trust instead of the system store, e.g. a
            corporate proxy's CA; None trusts what a cloud would (the system store).
    """

    timeout: float = DEFAULT_TIMEOUT
    ca_bundle: str | None = None


@dataclass(frozen=True)
class HttpAnswer:
    """What a server answered; ``content_type`` and ``location`` are raw header values."""

    url: str
    status: int
    reason: str
    content_type: str | None
    location: str | None
    body: bytes
    elapsed: float


FailureKind: TypeAlias = Literal["tls", "timeout", "unreachable", "too-large", "error"]


@dataclass(frozen=True)
class HttpFailure:
    """A request that got no usable answer."""

    url: str
    kind: FailureKind
    message: str


Fetched: TypeAlias = HttpAnswer | HttpFailure


def fetch(url: str, options: FetchOptions) -> Fetched:
    """GET ``url`` anonymously, the way an STS does: no redirects, TLS verified.

    ``verify`` and ``timeout`` are given per request: requests lets ``REQUESTS_CA_BUNDLE``
    override a session-level ``verify``. The body is read within the same deadline and up to
    :data:`MAX_DOCUMENT_BYTES`.
    """
    verify: bool | str = options.ca_bundle or True
    started = time.monotonic()
    try:
        with requests.get(
            url,
            allow_redirects=False,
            verify=verify,
            timeout=(options.timeout, options.timeout),
            headers={"Accept": "application/json"},
            stream=True,
        ) as response:
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body.extend(chunk)
                if len(body) > MAX_DOCUMENT_BYTES:
                    return HttpFailure(
                        url, "too-large", f"answer is larger than {MAX_DOCUMENT_BYTES} bytes"
                    )
                if time.monotonic() - started > options.timeout:
                    return HttpFailure(
                        url, "timeout", f"the answer took longer than {options.timeout:g} s"
                    )
            return HttpAnswer(
                url=url,
                status=response.status_code,
                reason=response.reason or "",
                content_type=response.headers.get("Content-Type"),
                location=response.headers.get("Location"),
                body=bytes(body),
                elapsed=time.monotonic() - started,
            )
    except requests.exceptions.SSLError as exc:
        return HttpFailure(url, "tls", f"certificate not trusted ({_reason(exc)})")
    except requests.exceptions.Timeout:
        return HttpFailure(url, "timeout", f"no answer within {options.timeout:g} s")
    except requests.exceptions.ConnectionError as exc:
        return HttpFailure(url, "unreachable", f"unreachable ({_reason(exc)})")
    except requests.exceptions.RequestException as exc:
        return HttpFailure(url, "error", f"request failed ({_reason(exc)})")


def _reason(exc: BaseException) -> str:
    """The root cause of a requests/urllib3 failure, e.g. "Connection refused"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) and current.verify_message:
            return str(current.verify_message)
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        reason = getattr(current, "reason", None)
        first = current.args[0] if current.args else None
        current = next(
            (
                candidate
                for candidate in (reason, current.__cause__, current.__context__, first)
                if isinstance(candidate, BaseException)
            ),
            None,
        )
    return _snippet(str(exc), 160)


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def discovery_url(issuer: str) -> str:
    """``<issuer>/.well-known/openid-configuration``, one slash between, as verifiers join it."""
    return issuer.removesuffix("/") + "/.well-known/openid-configuration"


# --------------------------------------------------------------------------------------------
# Pure evaluators


def _not_found_fix(what: str, url: str, publisher: Publisher) -> str:
    if publisher == "fluxtrust":
        return f"publish the {what}: pulumi up (it uploads it to the issuer's bucket)"
    if publisher == "cloud":
        return (
            "the managed cluster's issuer does not serve it: check that its OIDC issuer is "
            "enabled (AKS: az aks update --enable-oidc-issuer) and that the issuer URL is right"
        )
    source = (
        "kubectl get --raw /.well-known/openid-configuration, with issuer and jwks_uri edited"
        if what == "discovery document"
        else "kubectl get --raw /openid/v1/jwks"
    )
    return f"publish the {what} at {url} ({source})"


def _forbidden_fix(publisher: Publisher) -> str:
    if publisher == "fluxtrust":
        return (
            "make the object publicly readable: pulumi up declares the bucket policy (S3: check "
            "Block Public Access; Azure: allowBlobPublicAccess; GCS: public access prevention)"
        )
    return "make it readable without credentials: clouds fetch it anonymously"


def evaluate_fetch(
    name: str, what: str, fetched: Fetched, *, timeout: float, publisher: Publisher
) -> CheckResult:
    """Judge how a document was served: 200, no redirect, trusted TLS, within ``timeout``.

    Args:
        name: the check's name, e.g. ``discovery.fetch``.
        what: ``discovery document`` or ``JWKS``, for the messages.
        fetched: what :func:`fetch` returned.
        timeout: the limit the answer must beat.
        publisher: who serves the document, which decides the fix.
    """
    url = fetched.url
    if isinstance(fetched, HttpFailure):
        fixes: dict[FailureKind, str] = {
            "tls": (
                "serve a certificate that chains to a public root CA: the clouds check it "
                "against their own trust store (behind a TLS-inspecting proxy, pass its CA "
                "with --ca-bundle)"
            ),
            "timeout": (
                f"serve it faster: AWS STS gives up after about {DEFAULT_TIMEOUT:g} s (put a "
                "bucket or CDN in front of the issuer)"
            ),
            "unreachable": "make the URL reachable from the internet over HTTPS",
            "too-large": f"publish the {what} alone at this URL",
            "error": "make the URL answer a plain HTTPS GET",
        }
        return _fail(name, f"{url}: {fetched.message}", fixes[fetched.kind])
    if 300 <= fetched.status < 400:
        target = fetched.location or "no Location header"
        return _fail(
            name,
            f"{url}: HTTP {fetched.status} redirect to {target}; several STS implementations "
            "do not follow redirects",
            f"serve the {what} at this URL itself (for S3, use the regional virtual-hosted URL "
            "as the issuer)",
        )
    if fetched.status == 404:
        return _fail(name, f"{url}: HTTP 404 Not Found", _not_found_fix(what, url, publisher))
    if fetched.status in (401, 403):
        return _fail(
            name,
            f"{url}: HTTP {fetched.status} {fetched.reason}, it is not public",
            _forbidden_fix(publisher),
        )
    if fetched.status != 200:
        return _fail(
            name,
            f"{url}: HTTP {fetched.status} {fetched.reason}",
            f"make the URL answer 200 with the {what}",
        )
    if fetched.elapsed > timeout:
        return _fail(
            name,
            f"{url}: answered in {fetched.elapsed:.1f} s, past the {timeout:g} s limit",
            f"serve it faster: AWS STS gives up after about {DEFAULT_TIMEOUT:g} s",
        )
    return _pass(name, f"{url}: 200 in {fetched.elapsed:.2f} s")


def evaluate_content_type(
    name: str, answer: HttpAnswer, *, allowed: Sequence[str], publisher: Publisher
) -> CheckResult:
    """Pass when the media type (parameters such as ``charset`` ignored) is one of ``allowed``."""
    raw = answer.content_type
    media = (raw or "").split(";", 1)[0].strip().lower()
    if media in allowed:
        return _pass(name, f"served as {raw}")
    served = f"served as {raw}" if raw else "served without a Content-Type"
    fix = "set Content-Type: application/json on the object that serves this URL"
    if publisher == "fluxtrust":
        fix += " (pulumi up uploads it with that type)"
    return _fail(name, f"{answer.url}: {served}; verifiers expect {' or '.join(allowed)}", fix)


def _parse_object(answer: HttpAnswer) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object, or None and why not."""
    try:
        document = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError):
        text = answer.body.decode("utf-8", errors="replace")
        return None, f"the body is not JSON (starts with {_snippet(text)!r})"
    if not isinstance(document, dict):
        return None, f"the body is JSON but not an object ({type(document).__name__})"
    return document, ""


def evaluate_issuer(
    name: str, configured: str, served: object, *, publisher: Publisher, config_key: str
) -> CheckResult:
    """The discovery document's ``issuer`` must equal the trusted issuer byte for byte."""
    if not isinstance(served, str):
        return _fail(
            name,
            f"the discovery document has no string 'issuer' (got {served!r})",
            "publish a discovery document whose issuer is the trusted issuer URL",
        )
    if served == configured:
        return _pass(name, f"issuer is {served!r}, as trusted")
    detail = f"the document says issuer {served!r} but the clouds trust {configured!r}"
    if served.rstrip("/") == configured.rstrip("/"):
        detail += (
            "; they differ only by a trailing slash, which makes a different issuer for "
            "every verifier"
        )
    else:
        detail += "; they must be equal byte for byte"
    if publisher == "fluxtrust":
        fix = "re-publish the discovery document: pulumi up"
    else:
        fix = (
            f"publish a discovery document whose issuer is exactly {configured!r}, or set "
            f"{config_key} to the issuer the document names"
        )
    return _fail(name, detail, fix)


def _host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return (parts.hostname or "").lower(), parts.port or default


def evaluate_jwks_uri(name: str, issuer: str, jwks_uri: object) -> CheckResult:
    """``jwks_uri`` must be an HTTPS URL; on another host than the issuer it is a warning.

    No cloud documents a same-host requirement, but AWS checks any OIDC provider thumbprints
    against the certificate of the ``jwks_uri`` host, and a second host is a second thing that
    must stay public: worth knowing, not a failure.
    """
    if not isinstance(jwks_uri, str) or not jwks_uri:
        return _fail(
            name,
            f"the discovery document has no string 'jwks_uri' (got {jwks_uri!r})",
            "publish a discovery document whose jwks_uri is the JWKS URL",
        )
    parts = urlsplit(jwks_uri)
    if parts.scheme != "https" or not parts.hostname:
        return _fail(
            name,
            f"jwks_uri {jwks_uri!r} is not an https URL; the clouds fetch the JWKS over HTTPS only",
            "serve the JWKS over HTTPS and point jwks_uri (kube-apiserver "
            "--service-account-jwks-uri) at the https URL",
        )
    if _host_port(jwks_uri) != _host_port(issuer):
        return CheckResult(
            name,
            "warn",
            f"jwks_uri {jwks_uri!r} is on another host than the issuer; the clouds accept it, "
            "but AWS checks any OIDC provider thumbprints against that host's certificate, and "
            "both hosts must stay public",
            "serve the JWKS beside the discovery document, at <issuer>/openid/v1/jwks",
        )
    return _pass(name, f"jwks_uri {jwks_uri!r} is https on the issuer's host")


def evaluate_jwks(name: str, document: object, *, publisher: Publisher) -> CheckResult:
    """Well-formed, public-only, unique kids, RS256/ES256 keys of the matching type."""
    keys = document.get("keys") if isinstance(document, dict) else None
    private = sorted(
        {
            str(key.get("kid", f"keys[{index}]"))
            for index, key in enumerate(keys if isinstance(keys, list) else [])
            if isinstance(key, dict) and any(member in key for member in _PRIVATE_MEMBERS)
        }
    )
    try:
        normalized = validate_jwks(document, source="published JWKS")
    except KeyMaterialError as exc:
        if private:
            fix = (
                f"remove the private key material now and rotate the signing key of "
                f"{', '.join(private)}: anyone could sign tokens with it"
            )
        elif publisher == "fluxtrust":
            fix = "re-publish the JWKS: pulumi up"
        else:
            fix = "publish the cluster's JWKS unchanged (kubectl get --raw /openid/v1/jwks)"
        return _fail(name, str(exc), fix)
    kids = [str(key["kid"]) for key in normalized["keys"]]
    algs = ", ".join(signing_algorithms(normalized))
    return _pass(name, f"{len(kids)} public key(s) ({algs}): {', '.join(kids)}")


def evaluate_algorithms(
    name: str, discovery: Mapping[str, Any], jwks: Mapping[str, Any], *, publisher: Publisher
) -> CheckResult:
    """``id_token_signing_alg_values_supported`` must list the keys' algorithms.

    A key algorithm missing from the list fails (a verifier may refuse such tokens); an
    advertised algorithm no key uses is a warning.
    """
    fix = (
        "re-publish the discovery document: pulumi up"
        if publisher == "fluxtrust"
        else "list exactly the keys' algorithms in id_token_signing_alg_values_supported"
    )
    advertised = discovery.get("id_token_signing_alg_values_supported")
    keys = set(signing_algorithms(jwks))
    if not isinstance(advertised, list) or not all(isinstance(a, str) for a in advertised):
        return _fail(
            name,
            f"id_token_signing_alg_values_supported is missing or not a list of strings "
            f"(got {advertised!r}); OpenID Connect discovery requires it",
            fix,
        )
    missing = sorted(keys - set(advertised))
    extra = sorted(set(advertised) - keys)
    if missing:
        return _fail(
            name,
            f"the keys sign with {', '.join(missing)} but the discovery document advertises "
            f"only {', '.join(advertised) or 'nothing'}",
            fix,
        )
    if extra:
        return CheckResult(
            name,
            "warn",
            f"the discovery document advertises {', '.join(extra)}, which no key uses",
            fix,
        )
    return _pass(name, f"advertised {', '.join(sorted(keys))}, as the keys use")


def _keys_by_kid(jwks: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The keys of a (possibly invalid) JWKS by kid, keeping only entries that have one."""
    keys = jwks.get("keys")
    out: dict[str, dict[str, Any]] = {}
    for key in keys if isinstance(keys, list) else []:
        if isinstance(key, dict) and isinstance(key.get("kid"), str):
            out.setdefault(key["kid"], key)
    return out


_KEY_MEMBERS = ("kty", "n", "e", "crv", "x", "y")


def evaluate_declared_keys(
    name: str,
    declared: Mapping[str, Any],
    published: Mapping[str, Any],
    *,
    declared_label: str,
    published_label: str,
    publisher: Publisher,
) -> CheckResult:
    """Every declared key is published and every published key is declared, with equal kids
    holding equal key material."""
    mine = _keys_by_kid(declared)
    theirs = _keys_by_kid(published)
    missing = sorted(set(mine) - set(theirs))
    extra = sorted(set(theirs) - set(mine))
    changed = sorted(
        kid
        for kid in set(mine) & set(theirs)
        if any(mine[kid].get(m) != theirs[kid].get(m) for m in _KEY_MEMBERS)
    )
    if not (missing or extra or changed):
        return _pass(name, f"{published_label} holds exactly the {len(mine)} declared key(s)")
    problems = []
    if missing:
        problems.append(f"declared key(s) missing from {published_label}: {', '.join(missing)}")
    if extra:
        problems.append(f"published key(s) not in {declared_label}: {', '.join(extra)}")
    if changed:
        problems.append(f"same kid, different key material: {', '.join(changed)}")
    if publisher == "fluxtrust":
        fix = "upload the declared JWKS: pulumi up"
    else:
        fix = (
            f"publish the JWKS of {declared_label} at the issuer's jwks_uri, or update "
            f"{declared_label} to the keys the cluster uses, then pulumi up"
        )
    return _fail(name, "; ".join(problems), fix)


def evaluate_cluster_keys(
    name: str,
    cluster_jwks: Mapping[str, Any],
    copies: Mapping[str, Mapping[str, Any]],
    *,
    fix: str,
) -> CheckResult:
    """Every key the cluster publishes now must be in every copy the clouds read.

    ``copies`` maps a label (the published JWKS URL, the declared JWKS) to its document. Keys
    in a copy that the cluster no longer has are fine: they keep older tokens valid. ``fix``
    depends on who maintains the copies, so the caller gives it.
    """
    current = _keys_by_kid(cluster_jwks)
    missing: list[str] = []
    for label, copy in copies.items():
        absent = sorted(set(current) - set(_keys_by_kid(copy)))
        if absent:
            missing.append(f"{label} lacks {', '.join(absent)}")
    if missing:
        return _fail(
            name,
            "the cluster publishes key(s) the clouds cannot see, so tokens it signs with them "
            f"are rejected: {'; '.join(missing)}",
            fix,
        )
    return _pass(
        name,
        f"the cluster's {len(current)} key(s) ({', '.join(sorted(current))}) are in "
        f"{' and '.join(copies)}",
    )


def evaluate_cluster_issuer(
    name: str, cluster_issuer: str, trusted: str, *, sets_flags: bool, config_key: str
) -> CheckResult:
    """The issuer the cluster puts in its tokens must be the one the clouds trust."""
    if cluster_issuer == trusted:
        return _pass(name, f"the cluster issues tokens for {trusted!r}, the trusted issuer")
    detail = f"the cluster issues tokens for {cluster_issuer!r} but the clouds trust {trusted!r}"
    if cluster_issuer.rstrip("/") == trusted.rstrip("/"):
        detail += "; they differ only by a trailing slash, which makes a different issuer"
    flag = f"--service-account-issuer={trusted} first"
    if sets_flags:
        fix = f"start the API server with the flags of pulumi stack output issuers: {flag}"
    else:
        fix = (
            f"set {config_key} to {cluster_issuer!r}, then pulumi up; or start the API server "
            f"with {flag}"
        )
    return _fail(name, detail, fix)


# --------------------------------------------------------------------------------------------
# The runner


def _cluster_key(cluster: ClusterConfig) -> str:
    return f"{CONFIG_NAMESPACE}:clusters[{cluster.index}]"


def _publisher(cluster: ClusterConfig) -> Publisher:
    if isinstance(cluster.issuer, IssuerHost):
        return "fluxtrust"
    if cluster.managed_cloud is not None:
        return "cloud"
    return "user"


@dataclass
class _IssuerState:
    """What the issuer checks learned, for the drift checks that follow."""

    checks: list[CheckResult] = field(default_factory=list)
    jwks_uri: str | None = None
    published: dict[str, Any] | None = None


def _check_issuer(
    issuer: str, *, publisher: Publisher, config_key: str, options: FetchOptions
) -> _IssuerState:
    """Fetch and judge the discovery document and the JWKS of one issuer."""
    state = _IssuerState()
    checks = state.checks

    def skip_rest(names: Sequence[str], reason: str) -> None:
        checks.extend(_skip(n, reason) for n in names)

    answer = fetch(discovery_url(issuer), options)
    fetched = evaluate_fetch(
        "discovery.fetch",
        "discovery document",
        answer,
        timeout=options.timeout,
        publisher=publisher,
    )
    checks.append(fetched)
    after_discovery = [
        "discovery.content-type",
        "discovery.issuer",
        "discovery.jwks-uri",
        "jwks.fetch",
        "jwks.content-type",
        "jwks.keys",
        "jwks.algorithms",
    ]
    if fetched.status == "fail" or not isinstance(answer, HttpAnswer):
        skip_rest(after_discovery, "needs the discovery document (discovery.fetch failed)")
        return state
    checks.append(
        evaluate_content_type(
            "discovery.content-type", answer, allowed=_JSON_TYPES, publisher=publisher
        )
    )
    discovery, why = _parse_object(answer)
    if discovery is None:
        checks.append(
            _fail("discovery.issuer", f"{answer.url}: {why}", "publish the discovery document")
        )
        skip_rest(after_discovery[2:], "needs a discovery document that parses")
        return state
    checks.append(
        evaluate_issuer(
            "discovery.issuer",
            issuer,
            discovery.get("issuer"),
            publisher=publisher,
            config_key=config_key,
        )
    )
    uri_check = evaluate_jwks_uri("discovery.jwks-uri", issuer, discovery.get("jwks_uri"))
    checks.append(uri_check)
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        skip_rest(after_discovery[3:], "needs a jwks_uri")
        return state
    # A plain-HTTP jwks_uri already failed above; fetching it anyway still shows whether the
    # keys themselves are right, which the drift checks need.
    state.jwks_uri = jwks_uri
    jwks_answer = fetch(jwks_uri, options)
    jwks_fetched = evaluate_fetch(
        "jwks.fetch", "JWKS", jwks_answer, timeout=options.timeout, publisher=publisher
    )
    checks.append(jwks_fetched)
    if jwks_fetched.status == "fail" or not isinstance(jwks_answer, HttpAnswer):
        skip_rest(after_discovery[5:], "needs the JWKS (jwks.fetch failed)")
        return state
    checks.append(
        evaluate_content_type(
            "jwks.content-type", jwks_answer, allowed=_JWKS_TYPES, publisher=publisher
        )
    )
    jwks, why = _parse_object(jwks_answer)
    if jwks is None:
        checks.append(_fail("jwks.keys", f"{jwks_answer.url}: {why}", "publish the JWKS"))
        skip_rest(after_discovery[6:], "needs a JWKS that parses")
        return state
    state.published = jwks
    keys_check = evaluate_jwks("jwks.keys", jwks, publisher=publisher)
    checks.append(keys_check)
    if keys_check.status == "fail":
        skip_rest(after_discovery[6:], "needs a valid JWKS (jwks.keys failed)")
        return state
    checks.append(evaluate_algorithms("jwks.algorithms", discovery, jwks, publisher=publisher))
    return state


def _declared_jwks(
    cluster: ClusterConfig, project_dir: Path
) -> tuple[dict[str, Any] | None, str, str | None]:
    """``(jwks, label, why_unknown)``: the JWKS fluxtrust publishes for the cluster, if known.

    Raises:
        KeyMaterialError: a declared key file cannot be read or holds a refused key.
    """
    source = cluster.jwks
    base = f"{_cluster_key(cluster)}.jwks"
    if isinstance(source, JwksPublicKeys):
        paths = [Path(p) for p in source.paths]
        return jwks_from_public_key_files(paths, base_dir=project_dir), f"{base}.publicKeys", None
    if isinstance(source, JwksFile):
        return load_jwks_file(Path(source.path), base_dir=project_dir), f"{base}.file", None
    if isinstance(source, JwksGenerate):
        return (
            None,
            f"{base}.generate",
            "the key is generated into the stack's state, which verify does not read; "
            "drift.cluster-keys compares the published JWKS with the cluster's keys",
        )
    if isinstance(source, JwksFromCluster):
        return (
            None,
            f"{base}.fromCluster",
            "the keys are read from the cluster at deploy time; drift.cluster-keys compares "
            "the published JWKS with the cluster's keys now",
        )
    return None, base, "no jwks declared: the cluster's cloud publishes its keys"


def _kubeconfig_for(cluster: ClusterConfig, project_dir: Path) -> tuple[Path, str | None] | None:
    """The kubeconfig and context that reach the cluster, or None when none is configured.

    ``jwks.fromCluster.kubeconfig`` first (with its own context), then the ``kubernetes``
    block's kubeconfig, then ``~/.kube/config``; relative paths are the project directory's.
    """
    source = cluster.jwks if isinstance(cluster.jwks, JwksFromCluster) else None
    access = cluster.kubernetes
    if source is None and access is None:
        return None

    def resolve(value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else project_dir / path

    if source is not None and source.kubeconfig is not None:
        return resolve(source.kubeconfig), source.context
    context = (source.context if source else None) or (access.context if access else None)
    if access is not None and access.kubeconfig is not None:
        return resolve(access.kubeconfig), context
    return DEFAULT_KUBECONFIG.expanduser(), context


def _drift_checks(
    cluster: ClusterConfig,
    *,
    issuer: str,
    state: _IssuerState,
    project_dir: Path,
    options: FetchOptions,
    gcp_upload: bool,
) -> list[CheckResult]:
    """Declared keys vs published keys, and the live cluster's keys and issuer vs both.

    ``gcp_upload``: GCP is given the declared JWKS rather than fetching the published one.
    """
    publisher = _publisher(cluster)
    checks: list[CheckResult] = []
    published_label = f"the JWKS at {state.jwks_uri}" if state.jwks_uri else "the published JWKS"

    declared: dict[str, Any] | None = None
    try:
        declared, declared_label, unknown = _declared_jwks(cluster, project_dir)
    except KeyMaterialError as exc:
        declared_label = f"{_cluster_key(cluster)}.jwks"
        checks.append(
            _fail(
                "drift.declared-keys",
                f"the declared keys cannot be read: {exc}",
                f"fix {declared_label} in the stack configuration",
            )
        )
        unknown = None
    if unknown is not None:
        checks.append(_skip("drift.declared-keys", unknown))
    elif declared is not None and state.published is None:
        checks.append(_skip("drift.declared-keys", "needs the published JWKS (see jwks.fetch)"))
    elif declared is not None and state.published is not None:
        checks.append(
            evaluate_declared_keys(
                "drift.declared-keys",
                declared,
                state.published,
                declared_label=declared_label,
                published_label=published_label,
                publisher=publisher,
            )
        )
    if declared is not None and gcp_upload:
        declared_label += " (also uploaded to GCP)"

    where = _kubeconfig_for(cluster, project_dir)
    cluster_names = ("drift.cluster-keys", "drift.cluster-issuer")
    if where is None:
        reason = "the cluster is not reachable: no kubernetes block or jwks.fromCluster"
        return [*checks, *(_skip(n, reason) for n in cluster_names)]
    try:
        endpoint = load_kubeconfig(*where)
        documents = fetch_cluster_issuer(endpoint, timeout=options.timeout)
    except ClusterFetchError as exc:
        reason = f"the cluster is not reachable: {exc}"
        return [*checks, *(_skip(n, reason) for n in cluster_names)]

    copies: dict[str, Mapping[str, Any]] = {}
    if state.published is not None:
        copies[published_label] = state.published
    if declared is not None:
        copies[declared_label] = declared
    if copies:
        checks.append(
            evaluate_cluster_keys(
                "drift.cluster-keys",
                documents.jwks,
                copies,
                fix=_cluster_keys_fix(publisher, declared_known=declared is not None),
            )
        )
    else:
        checks.append(_skip("drift.cluster-keys", "no published or declared JWKS to compare with"))
    sets_flags = isinstance(cluster.issuer, IssuerHost) or isinstance(cluster.jwks, JwksGenerate)
    checks.append(
        evaluate_cluster_issuer(
            "drift.cluster-issuer",
            documents.issuer,
            issuer,
            sets_flags=sets_flags,
            config_key=f"{_cluster_key(cluster)}.issuer.url",
        )
    )
    return checks


def _cluster_keys_fix(publisher: Publisher, *, declared_known: bool) -> str:
    if declared_known:
        return (
            "publish the cluster's current keys in every copy before it signs with them: add the "
            "new public key to the cluster's jwks in the stack configuration, then pulumi up"
        )
    if publisher == "fluxtrust":
        return "re-publish the cluster's keys: pulumi up"
    if publisher == "cloud":
        return (
            "the cloud's issuer does not publish this cluster's keys: check that the issuer URL "
            "belongs to this cluster (a rebuilt cluster gets a new issuer)"
        )
    return "publish the cluster's JWKS (kubectl get --raw /openid/v1/jwks) at the jwks_uri"


def _output_issuers(outputs: Mapping[str, Any] | None, cluster: str) -> tuple[str, ...] | None:
    """``(current, *previous)`` from the stack outputs' ``issuers`` entry, when present."""
    if outputs is None:
        return None
    entry = outputs.get("issuers", {})
    entry = entry.get(cluster) if isinstance(entry, Mapping) else None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("issuerUrl"), str):
        return None
    current: str = entry["issuerUrl"]
    trusted = entry.get("trustedIssuers")
    rest = [t for t in trusted if isinstance(t, str) and t != current] if trusted else []
    return (current, *rest)


def _verify_cluster(
    cluster: ClusterConfig,
    stack: StackConfig,
    *,
    project_dir: Path,
    outputs: Mapping[str, Any] | None,
    options: FetchOptions,
) -> ClusterReport:
    current = static_issuer_url(cluster, aws=stack.aws, gcp=stack.gcp)
    issuers: tuple[str, ...]
    if current is not None:
        issuers = (current, *cluster.previous_issuers)
    else:
        from_outputs = _output_issuers(outputs, cluster.name)
        if from_outputs is None:
            kind = "EKS" if cluster.type == "eks" else "AKS" if cluster.type == "aks" else "its"
            looked_up = isinstance(cluster.issuer, IssuerLookup)
            reason = (
                f"the {kind} issuer is looked up at deploy time"
                if looked_up
                else "the issuer URL is not known from the configuration"
            )
            check = _skip(
                "issuer.url",
                f"{reason}; pass the deployed stack's outputs to verify it: pulumi stack output "
                "--json > outputs.json, then --outputs outputs.json",
            )
            return ClusterReport(cluster.name, (), (check,))
        issuers = tuple(dict.fromkeys((*from_outputs, *cluster.previous_issuers)))

    key = _cluster_key(cluster)
    users = stack.identities_on(cluster.name)
    gcp_upload = cluster.gcp_jwks == "upload" and any(i.gcp is not None for i in users)
    # GCP given the JWKS is the one verifier that never fetches the issuer, so when it is the
    # only cloud trusting the cluster, the issuer need not be public at all.
    private_ok = gcp_upload and all(i.aws is None and i.azure is None for i in users)
    checks: list[CheckResult] = []
    current_state = _IssuerState()
    for index, issuer in enumerate(issuers):
        # Old issuers are published by whoever hosted them; fluxtrust publishes only the current.
        publisher = _publisher(cluster) if index == 0 else "user"
        config_key = f"{key}.issuer.url" if index == 0 else f"{key}.previousIssuers[{index - 1}]"
        state = _check_issuer(issuer, publisher=publisher, config_key=config_key, options=options)
        if index == 0:
            current_state = state
            if private_ok:
                state.checks[:] = [_private_issuer_finding(c) for c in state.checks]
        checks.extend(_with_issuer(state.checks, issuer))
    # Drift concerns the current issuer only: the API server signs every new token for it,
    # while tokens of previous issuers were signed earlier and only need to expire.
    drift = _drift_checks(
        cluster,
        issuer=issuers[0],
        state=current_state,
        project_dir=project_dir,
        options=options,
        gcp_upload=gcp_upload,
    )
    checks.extend(_with_issuer(drift, issuers[0]))
    return ClusterReport(cluster.name, issuers, tuple(checks))


def _private_issuer_finding(check: CheckResult) -> CheckResult:
    """A failure that does not matter when only GCP, with an uploaded JWKS, trusts the issuer."""
    if check.status != "fail":
        return check
    detail = (
        f"{check.detail} (only GCP trusts this cluster, with an uploaded JWKS, so the issuer "
        "need not be public)"
    )
    return CheckResult(check.name, "warn", detail, check.fix, check.issuer)


def _with_issuer(checks: Iterable[CheckResult], issuer: str) -> list[CheckResult]:
    return [CheckResult(c.name, c.status, c.detail, c.fix, issuer) for c in checks]


def verify_stack(
    stack: StackConfig,
    *,
    stack_name: str,
    project_dir: Path,
    clusters: Sequence[str] = (),
    outputs: Mapping[str, Any] | None = None,
    options: FetchOptions | None = None,
) -> VerifyReport:
    """Check every issuer the stack trusts (current and previous), cluster by cluster.

    Args:
        stack: the parsed stack configuration.
        stack_name: the stack's name, for the report.
        project_dir: the directory relative key and kubeconfig paths are resolved against.
        clusters: only these clusters (all when empty).
        outputs: the deployed stack's outputs (``pulumi stack output --json``), used for the
            issuers only known after deployment (EKS and AKS look-ups).
        options: timeout and CA bundle for the issuer fetches.

    Raises:
        ConfigError: ``clusters`` names a cluster the stack does not declare.
    """
    options = options or FetchOptions()
    known = [c.name for c in stack.clusters]
    unknown = [name for name in clusters if name not in known]
    if unknown:
        problems = [
            ConfigProblem(
                f"--cluster {name}",
                f"the stack declares no such cluster; clusters: {', '.join(known)}",
            )
            for name in unknown
        ]
        raise ConfigError(problems)
    chosen = [c for c in stack.clusters if not clusters or c.name in clusters]
    reports = tuple(
        _verify_cluster(c, stack, project_dir=project_dir, outputs=outputs, options=options)
        for c in chosen
    )
    return VerifyReport(stack_name, reports)


def load_outputs(path: Path) -> dict[str, Any]:
    """Read the JSON of ``pulumi stack output --json``.

    Raises:
        ConfigError: the file cannot be read or is not a JSON object.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problem = f"cannot be read: {exc.strerror or exc}"
        raise ConfigError([ConfigProblem(f"--outputs {path}", problem)]) from None
    except ValueError as exc:
        problem = f"is not JSON ({exc}); give the output of pulumi stack output --json"
        raise ConfigError([ConfigProblem(f"--outputs {path}", problem)]) from None
    if not isinstance(document, dict):
        problem = "must be a JSON object: the output of pulumi stack output --json"
        raise ConfigError([ConfigProblem(f"--outputs {path}", problem)])
    return document


def verify_stack_file(
    config_file: Path,
    *,
    stack_name: str,
    project_dir: Path,
    clusters: Sequence[str] = (),
    outputs_file: Path | None = None,
    options: FetchOptions | None = None,
) -> VerifyReport:
    """Read and validate a stack file, then :func:`verify_stack` it.

    Raises:
        ConfigError: the stack file, ``--cluster``, ``--outputs`` or ``--ca-bundle`` is wrong.
    """
    options = options or FetchOptions()
    if options.ca_bundle is not None and not Path(options.ca_bundle).is_file():
        problem = "is not a file; give a PEM file of CA certificates"
        raise ConfigError([ConfigProblem(f"--ca-bundle {options.ca_bundle}", problem)])
    if options.timeout <= 0:
        problem = "must be a positive number of seconds"
        raise ConfigError([ConfigProblem(f"--timeout {options.timeout:g}", problem)])
    stack = parse_stack_config(load_stack_file(config_file))
    outputs = load_outputs(outputs_file) if outputs_file is not None else None
    return verify_stack(
        stack,
        stack_name=stack_name,
        project_dir=project_dir,
        clusters=clusters,
        outputs=outputs,
        options=options,
    )
