"""Tests for fluxtrust.verify and `fluxtrust verify`, against local servers with their own CA."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fluxtrust import cli
from fluxtrust.config import StackConfig, parse_stack_config
from fluxtrust.errors import ConfigError
from fluxtrust.jwks import discovery_document, jwk_from_public_key
from fluxtrust.verify import (
    CheckResult,
    FetchOptions,
    HttpAnswer,
    VerifyReport,
    discovery_url,
    evaluate_algorithms,
    evaluate_content_type,
    evaluate_declared_keys,
    evaluate_jwks_uri,
    verify_stack,
)
from tls_server import LocalServer, free_port

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/openid/v1/jwks"


# ---------------------------------------------------------------- helpers


def new_key() -> ec.EllipticCurvePublicKey:
    """A P-256 public key: ES256 keys are generated in microseconds, unlike RSA."""
    return ec.generate_private_key(ec.SECP256R1()).public_key()


def jwks_of(*keys: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    return {"keys": [jwk_from_public_key(key, source="test") for key in keys]}


def kid(key: ec.EllipticCurvePublicKey) -> str:
    return jwk_from_public_key(key, source="test")["kid"]


@pytest.fixture(scope="module")
def old_key() -> ec.EllipticCurvePublicKey:
    return new_key()


@pytest.fixture(scope="module")
def new_signing_key() -> ec.EllipticCurvePublicKey:
    return new_key()


@pytest.fixture
def issuer_server(old_key: ec.EllipticCurvePublicKey) -> Iterator[LocalServer]:
    """An HTTPS server publishing a correct issuer at its own base URL."""
    with LocalServer() as server:
        serve_issuer(server, server.base_url, jwks_of(old_key))
        yield server


def serve_issuer(
    server: LocalServer, issuer: str, jwks: dict[str, Any], jwks_uri: str | None = None
) -> None:
    """Serve the discovery document of `issuer` and the JWKS, as the API server would."""
    uri = jwks_uri or server.url(JWKS)
    server.set_json(DISCOVERY, discovery_document(issuer, uri, jwks))
    server.set_json(JWKS, jwks)


def options_for(server: LocalServer, timeout: float = 2.0) -> FetchOptions:
    return FetchOptions(timeout=timeout, ca_bundle=str(server.ca_bundle_path))


def write_public_key(directory: Path, *keys: ec.EllipticCurvePublicKey) -> Path:
    path = directory / "cluster.pub"
    path.write_bytes(
        b"".join(
            key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            for key in keys
        )
    )
    return path


def write_kubeconfig(directory: Path, server: LocalServer) -> Path:
    """A kubeconfig whose only context reaches `server`, trusting its CA."""
    ca_data = base64.b64encode(server.ca_pem).decode("ascii")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "test",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": server.base_url, "certificate-authority-data": ca_data},
            }
        ],
        "contexts": [{"name": "test", "context": {"cluster": "c"}}],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def cluster_entry(
    issuer: str,
    *,
    public_key: Path | None = None,
    kubeconfig: Path | None = None,
    previous: tuple[str, ...] = (),
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "ci", "type": "other", "issuer": {"url": issuer}}
    if public_key is not None:
        entry["jwks"] = {"publicKeys": [str(public_key)]}
    if kubeconfig is not None:
        entry["kubernetes"] = {"kubeconfig": str(kubeconfig)}
    if previous:
        entry["previousIssuers"] = list(previous)
    return entry


def config_for(*clusters: dict[str, Any]) -> StackConfig:
    return parse_stack_config({"clusters": list(clusters)})


def run(config: StackConfig, options: FetchOptions, tmp_path: Path, **kwargs: Any) -> VerifyReport:
    return verify_stack(config, stack_name="test", project_dir=tmp_path, options=options, **kwargs)


def checks(report: VerifyReport, issuer: str | None = None) -> dict[str, CheckResult]:
    """The first cluster's checks by name (for one issuer, when given)."""
    found = report.clusters[0].checks
    return {c.name: c for c in found if issuer is None or c.issuer == issuer}


def write_stack(directory: Path, *clusters: dict[str, Any]) -> Path:
    path = directory / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump({"config": {"fluxtrust:clusters": list(clusters)}}))
    return path


# ---------------------------------------------------------------- the discovery document


def test_healthy_issuer_passes(issuer_server: LocalServer, tmp_path: Path) -> None:
    """A correct issuer passes every issuer check; drift is skipped without a cluster."""
    config = config_for(cluster_entry(issuer_server.base_url))

    report = run(config, options_for(issuer_server), tmp_path)

    found = checks(report)
    issuer_checks = [c for name, c in found.items() if not name.startswith("drift.")]
    assert [c.status for c in issuer_checks] == ["pass"] * 8
    assert found["drift.cluster-keys"].status == "skip"
    assert "not reachable" in found["drift.cluster-keys"].detail
    assert report.exit_status == 0


def test_discovery_404_fails(issuer_server: LocalServer, tmp_path: Path) -> None:
    """A missing discovery document fails with a fix, and the checks that need it are skipped."""
    issuer_server.set_route(DISCOVERY, 404, b"not found")
    config = config_for(cluster_entry(issuer_server.base_url))

    report = run(config, options_for(issuer_server), tmp_path)

    found = checks(report)
    assert found["discovery.fetch"].status == "fail"
    assert "HTTP 404 Not Found" in found["discovery.fetch"].detail
    assert "publish the discovery document at" in (found["discovery.fetch"].fix or "")
    assert found["jwks.keys"].status == "skip"
    assert report.exit_status == 1


def test_wrong_content_type_fails(issuer_server: LocalServer, tmp_path: Path) -> None:
    """A discovery document served as text/plain fails with the Content-Type fix."""
    body = json.dumps(
        discovery_document(issuer_server.base_url, issuer_server.url(JWKS), {"keys": []})
    ).encode()
    issuer_server.set_route(DISCOVERY, 200, body, {"Content-Type": "text/plain"})
    config = config_for(cluster_entry(issuer_server.base_url))

    found = checks(run(config, options_for(issuer_server), tmp_path))

    check = found["discovery.content-type"]
    assert check.status == "fail"
    assert "served as text/plain" in check.detail
    assert check.fix == "set Content-Type: application/json on the object that serves this URL"


def test_content_type_parameters_and_jwk_set_type_accepted() -> None:
    """`charset` parameters are ignored and a JWKS may be application/jwk-set+json."""
    answer = HttpAnswer(
        "https://h/j", 200, "OK", "application/jwk-set+json; charset=utf-8", None, b"", 0.0
    )

    result = evaluate_content_type(
        "jwks.content-type",
        answer,
        allowed=("application/json", "application/jwk-set+json"),
        publisher="user",
    )

    assert result.status == "pass"


def test_issuer_mismatch_fails(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """A document naming another issuer fails, asking for byte-for-byte equality."""
    serve_issuer(issuer_server, "https://elsewhere.example", jwks_of(old_key))
    config = config_for(cluster_entry(issuer_server.base_url))

    found = checks(run(config, options_for(issuer_server), tmp_path))

    check = found["discovery.issuer"]
    assert check.status == "fail"
    assert "they must be equal byte for byte" in check.detail
    assert "fluxtrust:clusters[0].issuer.url" in (check.fix or "")


def test_issuer_trailing_slash_only_is_named(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """A document whose issuer differs by a trailing slash alone says so."""
    serve_issuer(issuer_server, issuer_server.base_url + "/", jwks_of(old_key))
    config = config_for(cluster_entry(issuer_server.base_url))

    found = checks(run(config, options_for(issuer_server), tmp_path))

    assert found["discovery.issuer"].status == "fail"
    assert "differ only by a trailing slash" in found["discovery.issuer"].detail


def test_issuer_with_trailing_slash_joins_one_slash(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """An issuer ending with '/' is fetched without a double slash and matches itself."""
    issuer = issuer_server.base_url + "/"
    serve_issuer(issuer_server, issuer, jwks_of(old_key))
    config = config_for(cluster_entry(issuer))

    found = checks(run(config, options_for(issuer_server), tmp_path))

    assert found["discovery.issuer"].status == "pass"
    assert issuer_server.requests[0].path == DISCOVERY
    assert discovery_url("https://h/x/") == "https://h/x/.well-known/openid-configuration"


def test_redirect_fails(issuer_server: LocalServer, tmp_path: Path) -> None:
    """A redirect is not followed: it is reported, since several STS do not follow one."""
    issuer_server.set_route(DISCOVERY, 301, b"", {"Location": "https://elsewhere.example/"})
    config = config_for(cluster_entry(issuer_server.base_url))

    found = checks(run(config, options_for(issuer_server), tmp_path))

    assert found["discovery.fetch"].status == "fail"
    assert "redirect to https://elsewhere.example/" in found["discovery.fetch"].detail
    assert len(issuer_server.requests) == 1


def test_untrusted_certificate_fails(old_key: ec.EllipticCurvePublicKey, tmp_path: Path) -> None:
    """A certificate from a CA outside the trusted bundle fails as not trusted."""
    with LocalServer(untrusted=True) as server:
        serve_issuer(server, server.base_url, jwks_of(old_key))
        config = config_for(cluster_entry(server.base_url))

        found = checks(run(config, options_for(server), tmp_path))

    assert found["discovery.fetch"].status == "fail"
    assert "certificate not trusted" in found["discovery.fetch"].detail
    assert "--ca-bundle" in (found["discovery.fetch"].fix or "")


def test_slow_answer_past_the_limit_fails(issuer_server: LocalServer, tmp_path: Path) -> None:
    """An answer slower than the timeout fails, pointing at the STS limit."""
    body = json.dumps({"issuer": issuer_server.base_url}).encode()
    issuer_server.set_route(DISCOVERY, 200, body, {"Content-Type": "application/json"}, delay=1.0)
    config = config_for(cluster_entry(issuer_server.base_url))

    found = checks(run(config, options_for(issuer_server, timeout=0.5), tmp_path))

    assert found["discovery.fetch"].status == "fail"
    assert "no answer within 0.5 s" in found["discovery.fetch"].detail
    assert "about 5 s" in (found["discovery.fetch"].fix or "")


# ---------------------------------------------------------------- jwks_uri and the JWKS


def test_jwks_uri_on_another_host_warns(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """A jwks_uri on another host is a warning (clouds accept it) and does not fail the run."""
    port = issuer_server.base_url.rsplit(":", 1)[1]
    other_host = f"https://localhost:{port}{JWKS}"
    serve_issuer(issuer_server, issuer_server.base_url, jwks_of(old_key), jwks_uri=other_host)
    config = config_for(cluster_entry(issuer_server.base_url))

    report = run(config, options_for(issuer_server), tmp_path)

    check = checks(report)["discovery.jwks-uri"]
    assert check.status == "warn"
    assert "on another host than the issuer" in check.detail
    assert checks(report)["jwks.keys"].status == "pass"
    assert report.exit_status == 0


def test_jwks_uri_over_plain_http_fails(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """A jwks_uri over plain HTTP fails, though its keys are still read."""
    with LocalServer(scheme="http") as plain:
        plain.set_json(JWKS, jwks_of(old_key))
        serve_issuer(
            issuer_server, issuer_server.base_url, jwks_of(old_key), jwks_uri=plain.url(JWKS)
        )
        config = config_for(cluster_entry(issuer_server.base_url))

        found = checks(run(config, options_for(issuer_server), tmp_path))

    assert found["discovery.jwks-uri"].status == "fail"
    assert "is not an https URL" in found["discovery.jwks-uri"].detail
    assert found["jwks.keys"].status == "pass"


def test_jwks_with_private_member_fails(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """A published JWKS holding a private member fails and asks for a key rotation."""
    leaked = jwks_of(old_key)
    leaked["keys"][0]["d"] = "c2VjcmV0"
    serve_issuer(issuer_server, issuer_server.base_url, leaked)
    config = config_for(cluster_entry(issuer_server.base_url))

    found = checks(run(config, options_for(issuer_server), tmp_path))

    check = found["jwks.keys"]
    assert check.status == "fail"
    assert "holds private member(s) d" in check.detail
    assert f"rotate the signing key of {kid(old_key)}" in (check.fix or "")
    assert found["jwks.algorithms"].status == "skip"


def test_advertised_algorithms_must_cover_the_keys(old_key: ec.EllipticCurvePublicKey) -> None:
    """Keys signing with an algorithm the discovery document does not advertise fail."""
    discovery = {"id_token_signing_alg_values_supported": ["RS256"]}

    result = evaluate_algorithms("jwks.algorithms", discovery, jwks_of(old_key), publisher="user")

    assert result.status == "fail"
    assert "the keys sign with ES256 but the discovery document advertises only RS256" in (
        result.detail
    )


def test_jwks_uri_must_be_present() -> None:
    """A discovery document without a jwks_uri fails."""
    result = evaluate_jwks_uri("discovery.jwks-uri", "https://h", None)

    assert result.status == "fail"
    assert "no string 'jwks_uri'" in result.detail


# ---------------------------------------------------------------- drift


def test_declared_keys_missing_and_extra(
    old_key: ec.EllipticCurvePublicKey, new_signing_key: ec.EllipticCurvePublicKey
) -> None:
    """Declared keys absent from the published JWKS, and published keys not declared, fail."""
    result = evaluate_declared_keys(
        "drift.declared-keys",
        jwks_of(new_signing_key),
        jwks_of(old_key),
        declared_label="publicKeys",
        published_label="the bucket",
        publisher="fluxtrust",
    )

    assert result.status == "fail"
    assert f"declared key(s) missing from the bucket: {kid(new_signing_key)}" in result.detail
    assert f"published key(s) not in publicKeys: {kid(old_key)}" in result.detail
    assert result.fix == "upload the declared JWKS: pulumi up"


def test_kid_missing_after_rotation_fails(
    issuer_server: LocalServer,
    old_key: ec.EllipticCurvePublicKey,
    new_signing_key: ec.EllipticCurvePublicKey,
    tmp_path: Path,
) -> None:
    """The cluster signs with a rotated key that neither published copy holds: drift fails."""
    declared = write_public_key(tmp_path, old_key)
    with LocalServer() as api_server:
        serve_issuer(api_server, issuer_server.base_url, jwks_of(old_key, new_signing_key))
        entry = cluster_entry(
            issuer_server.base_url,
            public_key=declared,
            kubeconfig=write_kubeconfig(tmp_path, api_server),
        )

        found = checks(run(config_for(entry), options_for(issuer_server), tmp_path))

    assert found["drift.declared-keys"].status == "pass"
    check = found["drift.cluster-keys"]
    assert check.status == "fail"
    assert f"the JWKS at {issuer_server.url(JWKS)} lacks {kid(new_signing_key)}" in check.detail
    assert f"fluxtrust:clusters[0].jwks.publicKeys lacks {kid(new_signing_key)}" in check.detail
    assert found["drift.cluster-issuer"].status == "pass"


def test_cluster_issuer_differs_fails(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """A cluster issuing tokens for another issuer than the trusted one fails."""
    with LocalServer() as api_server:
        serve_issuer(api_server, "https://kubernetes.default.svc.cluster.local", jwks_of(old_key))
        entry = cluster_entry(
            issuer_server.base_url, kubeconfig=write_kubeconfig(tmp_path, api_server)
        )

        found = checks(run(config_for(entry), options_for(issuer_server), tmp_path))

    check = found["drift.cluster-issuer"]
    assert check.status == "fail"
    assert "the cluster issues tokens for 'https://kubernetes.default.svc.cluster.local'" in (
        check.detail
    )
    assert found["drift.cluster-keys"].status == "pass"


def test_unreachable_cluster_skips_drift(issuer_server: LocalServer, tmp_path: Path) -> None:
    """A cluster whose API server does not answer skips the drift checks, with the reason."""
    with LocalServer() as api_server:
        kubeconfig = write_kubeconfig(tmp_path, api_server)
    entry = cluster_entry(issuer_server.base_url, kubeconfig=kubeconfig)

    report = run(config_for(entry), options_for(issuer_server), tmp_path)

    check = checks(report)["drift.cluster-keys"]
    assert check.status == "skip"
    assert check.detail.startswith("the cluster is not reachable:")
    assert report.exit_status == 0


def test_previous_issuers_are_checked_too(issuer_server: LocalServer, tmp_path: Path) -> None:
    """A previous issuer that no longer answers fails under its own URL."""
    gone = f"https://127.0.0.1:{free_port()}"
    config = config_for(cluster_entry(issuer_server.base_url, previous=(gone,)))

    report = run(config, options_for(issuer_server), tmp_path)

    assert report.clusters[0].issuers == (issuer_server.base_url, gone)
    assert checks(report, gone)["discovery.fetch"].status == "fail"
    assert "unreachable" in checks(report, gone)["discovery.fetch"].detail
    assert checks(report, issuer_server.base_url)["discovery.fetch"].status == "pass"


def test_lookup_issuer_skipped_without_outputs(tmp_path: Path) -> None:
    """An EKS issuer looked up at deploy time is skipped unless the stack outputs are given."""
    config = parse_stack_config(
        {
            "aws": {"region": "eu-west-1"},
            "clusters": [{"name": "prod", "type": "eks", "issuer": {"lookup": {"name": "prod"}}}],
        }
    )

    report = run(config, FetchOptions(), tmp_path)

    check = checks(report)["issuer.url"]
    assert check.status == "skip"
    assert "the EKS issuer is looked up at deploy time" in check.detail


def test_lookup_issuer_taken_from_outputs(issuer_server: LocalServer, tmp_path: Path) -> None:
    """With the stack outputs, a looked-up issuer is verified at the URL they name."""
    config = parse_stack_config(
        {
            "aws": {"region": "eu-west-1"},
            "clusters": [{"name": "prod", "type": "eks", "issuer": {"lookup": {"name": "prod"}}}],
        }
    )
    outputs = {"issuers": {"prod": {"issuerUrl": issuer_server.base_url}}}

    report = run(config, options_for(issuer_server), tmp_path, outputs=outputs)

    assert checks(report)["discovery.issuer"].status == "pass"


# ---------------------------------------------------------------- the command line


def test_cli_healthy_exits_0(
    issuer_server: LocalServer,
    old_key: ec.EllipticCurvePublicKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A healthy issuer and an in-sync cluster pass every check: exit status 0."""
    with LocalServer() as api_server:
        serve_issuer(api_server, issuer_server.base_url, jwks_of(old_key))
        entry = cluster_entry(
            issuer_server.base_url,
            public_key=write_public_key(tmp_path, old_key),
            kubeconfig=write_kubeconfig(tmp_path, api_server),
        )
        stack = write_stack(tmp_path, entry)

        status = cli.main(
            ["verify", "--config", str(stack), "--ca-bundle", str(issuer_server.ca_bundle_path)]
        )

    out = capsys.readouterr().out
    assert status == 0
    assert "cluster ci: PASS" in out
    assert "PASS: 0 failed, 11 passed, 0 warning(s), 0 skipped" in out


def test_cli_json_shape(
    issuer_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints one object: clusters -> checks with name, status, detail and fix."""
    stack = write_stack(tmp_path, cluster_entry(issuer_server.base_url))
    ca = str(issuer_server.ca_bundle_path)

    status = cli.main(["verify", "--config", str(stack), "--ca-bundle", ca, "--json"])

    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert (document["stack"], document["status"]) == ("test", "pass")
    first = document["clusters"]["ci"]["checks"][0]
    assert first == {
        "name": "discovery.fetch",
        "status": "pass",
        "detail": first["detail"],
        "fix": None,
        "issuer": issuer_server.base_url,
    }
    assert {c["status"] for c in document["clusters"]["ci"]["checks"]} == {"pass", "skip"}


def test_cli_failure_exits_1(
    issuer_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed check makes the command exit 1, and the report shows the fix."""
    issuer_server.set_route(DISCOVERY, 404, b"not found")
    stack = write_stack(tmp_path, cluster_entry(issuer_server.base_url))
    ca = str(issuer_server.ca_bundle_path)

    status = cli.main(["verify", "--config", str(stack), "--ca-bundle", ca])

    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL  discovery.fetch" in out
    assert "fix: publish the discovery document at" in out


def test_cli_config_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid stack configuration exits 2 with the problem on standard error."""
    stack = write_stack(tmp_path, {"name": "ci", "type": "other", "issuer": {"url": "http://x"}})

    status = cli.main(["verify", "--config", str(stack)])

    assert status == 2
    assert "must start with https://" in capsys.readouterr().err


def test_unknown_cluster_is_a_config_error(issuer_server: LocalServer, tmp_path: Path) -> None:
    """--cluster naming no declared cluster is refused, listing the clusters."""
    config = config_for(cluster_entry(issuer_server.base_url))

    with pytest.raises(ConfigError, match="--cluster nope: the stack declares no such cluster"):
        run(config, options_for(issuer_server), tmp_path, clusters=["nope"])


def test_private_issuer_trusted_by_gcp_upload_only_warns(
    issuer_server: LocalServer, old_key: ec.EllipticCurvePublicKey, tmp_path: Path
) -> None:
    """An unpublished issuer only GCP trusts, with an uploaded JWKS, warns instead of failing."""
    issuer_server.set_route(DISCOVERY, 404, b"not found")
    entry = cluster_entry(issuer_server.base_url, public_key=write_public_key(tmp_path, old_key))
    config = parse_stack_config(
        {
            "gcp": {"project": "acme-flux", "projectNumber": "123456789012", "pool": "flux-pool"},
            "clusters": [entry],
            "identities": [
                {
                    "name": "oci",
                    "level": "controller",
                    "clusters": ["ci"],
                    "serviceAccount": "flux-system/source-controller",
                    "gcp": {"roles": [{"role": "roles/artifactregistry.reader"}]},
                }
            ],
        }
    )

    report = run(config, options_for(issuer_server), tmp_path)

    check = checks(report)["discovery.fetch"]
    assert check.status == "warn"
    assert "only GCP trusts this cluster, with an uploaded JWKS" in check.detail
    assert report.exit_status == 0
