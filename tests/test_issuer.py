"""Tests for fluxtrust.issuer: reading a cluster's keys, and each source of a cluster's issuer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from fluxtrust import placeholders
from fluxtrust.config import (
    AwsSettings,
    ClusterConfig,
    IssuerHost,
    JwksGenerate,
    parse_stack_config,
)
from fluxtrust.issuer import (
    AksOidcIssuerDisabledError,
    ClusterIssuer,
    ClusterIssuerArgs,
    ClusterKeysError,
    IssuerError,
    check_cluster_issuer,
    resolve_cluster_keys,
)
from fluxtrust.jwks import canonical_json, discovery_document, jwk_from_public_key
from fluxtrust.plan import SECRET_PLACEHOLDER, Plan, run_plan
from tls_server import LocalServer, free_port

SETTINGS: dict[str, Any] = {
    "aws": {"region": "eu-west-1", "accountId": "123456789012"},
    "azure": {
        "tenantId": "11111111-1111-1111-1111-111111111111",
        "subscriptionId": "22222222-2222-2222-2222-222222222222",
        "resourceGroup": "platform",
        "location": "westeurope",
    },
    "gcp": {"project": "acme-platform", "projectNumber": "123456789", "pool": "flux-clusters"},
}
OUTPUTS = (
    "issuer_url",
    "trusted_issuers",
    "jwks_uri",
    "jwks_json",
    "api_server_flags",
    "signing_key_pem",
    "kind_config",
)
KIND_ISSUER = "https://issuer.example.test/ci"
AKS_ISSUER_INVOKE = "azure-native:containerservice:getManagedCluster"


# --------------------------------------------------------------------------------------------
# Helpers


def pem_public(key: PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pem_private(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, str]:
    return jwk_from_public_key(key.public_key(), source="test")


def cluster_of(raw_cluster: dict[str, Any]) -> ClusterConfig:
    """The validated configuration of one cluster."""
    return parse_stack_config({**SETTINGS, "clusters": [raw_cluster]}).clusters[0]


def plan_issuers(
    clusters: list[dict[str, Any]],
    project_dir: Path,
    *,
    declared: list[str] | None = None,
    captured: dict[str, Any] | None = None,
) -> Plan:
    """Plans one ClusterIssuer per cluster, exporting `<cluster>.<attribute>` for each output.

    Keys are resolved for every cluster before any issuer is declared, as the program does.
    `declared` receives each cluster's name once its issuer is declared; `captured` receives
    the plain value of every output (secrets included) for checks the plan cannot show.
    """
    raw = {**SETTINGS, "clusters": clusters}

    def program() -> None:
        config = parse_stack_config(raw)
        keys = {c.name: resolve_cluster_keys(c, project_dir=project_dir) for c in config.clusters}
        for c in config.clusters:
            issuer = ClusterIssuer(
                c.name, ClusterIssuerArgs(c, keys[c.name], config.aws, config.azure, config.gcp)
            )
            if declared is not None:
                declared.append(c.name)
            for attribute in OUTPUTS:
                output = getattr(issuer, attribute)
                if output is None:
                    continue
                pulumi.export(f"{c.name}.{attribute}", output)
                if captured is not None:
                    key = f"{c.name}.{attribute}"
                    output.apply(lambda value, key=key: captured.__setitem__(key, value))

    return run_plan(raw, stack="test", program=program, project_dir=project_dir)


def write_kubeconfig(directory: Path, server: LocalServer, name: str = "kubeconfig") -> Path:
    """A kubeconfig reaching `server` with its CA and a bearer token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "ci",
                "cluster": {
                    "server": server.base_url,
                    "certificate-authority-data": base64.b64encode(server.ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": "reader", "user": {"token": "test-token"}}],
        "contexts": [{"name": "kind-ci", "context": {"cluster": "ci", "user": "reader"}}],
        "current-context": "kind-ci",
    }
    path = directory / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def key_dir(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    """A project directory with keys/rsa.pub, keys/ec.pub and keys/private.pem."""
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "rsa.pub").write_bytes(pem_public(rsa_key))
    (keys / "ec.pub").write_bytes(pem_public(ec_key))
    (keys / "private.pem").write_bytes(pem_private(ec_key))
    return tmp_path


@pytest.fixture
def cluster_server(ec_key: ec.EllipticCurvePrivateKey) -> Iterator[LocalServer]:
    """A cluster API server serving KIND_ISSUER and the EC key."""
    jwks = {"keys": [jwk(ec_key)]}
    with LocalServer() as server:
        server.set_json(
            "/.well-known/openid-configuration",
            discovery_document(KIND_ISSUER, f"{KIND_ISSUER}/openid/v1/jwks", jwks),
        )
        server.set_json("/openid/v1/jwks", jwks)
        yield server


@pytest.fixture
def aks_oidc_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AKS look-up answers with the OIDC issuer profile disabled."""

    def answer(args: Mapping[str, Any], ctx: placeholders.PlaceholderContext) -> dict[str, Any]:
        return {"name": args.get("resourceName"), "oidcIssuerProfile": {"enabled": False}}

    monkeypatch.setitem(placeholders._INVOKES, AKS_ISSUER_INVOKE, answer)


# --------------------------------------------------------------------------------------------
# resolve_cluster_keys


class TestPublicKeyFiles:
    def test_keys_become_a_jwks_sorted_by_kid(
        self,
        key_dir: Path,
        rsa_key: rsa.RSAPrivateKey,
        ec_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        """Both files' keys are in the JWKS, as Kubernetes writes them, sorted by kid."""
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"publicKeys": ["keys/rsa.pub", "keys/ec.pub"]},
            }
        )

        keys = resolve_cluster_keys(cluster, project_dir=key_dir)

        assert keys is not None
        assert keys.jwks == {"keys": sorted([jwk(rsa_key), jwk(ec_key)], key=lambda k: k["kid"])}
        assert keys.source == "keys/rsa.pub, keys/ec.pub"
        assert keys.cluster_kids == ()

    def test_private_key_names_the_entry_and_file(self, key_dir: Path) -> None:
        """A private key is refused, naming the list entry and the file."""
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"publicKeys": ["keys/ec.pub", "keys/private.pem"]},
            }
        )

        with pytest.raises(
            ClusterKeysError,
            match=r"^fluxtrust:clusters\[0\]\.jwks\.publicKeys\[1\]: keys/private\.pem: holds a "
            r"private key",
        ):
            resolve_cluster_keys(cluster, project_dir=key_dir)

    def test_missing_file_names_the_entry_and_where_it_looked(self, key_dir: Path) -> None:
        """A missing file is named with the directory it was looked for in."""
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"publicKeys": ["keys/gone.pub"]},
            }
        )

        with pytest.raises(
            ClusterKeysError,
            match=r"publicKeys\[0\]: keys/gone\.pub: file not found "
            r"\(looked for .*keys/gone\.pub\)",
        ):
            resolve_cluster_keys(cluster, project_dir=key_dir)

    def test_not_pem_is_refused(self, key_dir: Path) -> None:
        """A file without a PEM block is one clear error naming it."""
        (key_dir / "keys" / "junk.pub").write_text("not a key\n", encoding="utf-8")
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"publicKeys": ["keys/junk.pub"]},
            }
        )

        with pytest.raises(
            ClusterKeysError, match=r"publicKeys\[0\]: keys/junk\.pub: no PEM block"
        ):
            resolve_cluster_keys(cluster, project_dir=key_dir)

    def test_same_key_in_two_files_names_both(self, key_dir: Path) -> None:
        """The same key in two files is refused, naming the list and both files."""
        (key_dir / "keys" / "copy.pub").write_bytes((key_dir / "keys" / "ec.pub").read_bytes())
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"publicKeys": ["keys/ec.pub", "keys/copy.pub"]},
            }
        )

        with pytest.raises(
            ClusterKeysError,
            match=r"jwks\.publicKeys: keys/copy\.pub: key \S+ is already given by keys/ec\.pub",
        ):
            resolve_cluster_keys(cluster, project_dir=key_dir)

    def test_bad_key_declares_nothing(self, key_dir: Path) -> None:
        """A bad key in the second cluster stops the plan before the first one is declared."""
        clusters = [
            {
                "name": "good",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"publicKeys": ["keys/ec.pub"]},
            },
            {
                "name": "bad",
                "type": "other",
                "issuer": {"url": "https://issuer.example.test/bad"},
                "jwks": {"publicKeys": ["keys/private.pem"]},
            },
        ]
        declared: list[str] = []

        with pytest.raises(ClusterKeysError, match=r"clusters\[1\]\.jwks\.publicKeys\[0\]"):
            plan_issuers(clusters, key_dir, declared=declared)
        assert declared == []


class TestJwksFile:
    def test_file_is_validated_and_normalized(
        self, tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
    ) -> None:
        """A JWKS file is read, and keeps public members only."""
        (tmp_path / "ci.jwks.json").write_text(
            json.dumps({"keys": [{**jwk(ec_key), "extra": "dropped"}]}), encoding="utf-8"
        )
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"file": "ci.jwks.json"},
            }
        )

        keys = resolve_cluster_keys(cluster, project_dir=tmp_path)

        assert keys is not None
        assert keys.jwks == {"keys": [jwk(ec_key)]}

    def test_private_member_is_refused(
        self, tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
    ) -> None:
        """A JWKS carrying a private key member names the file key path and the member."""
        (tmp_path / "ci.jwks.json").write_text(
            json.dumps({"keys": [{**jwk(ec_key), "d": "c2VjcmV0"}]}), encoding="utf-8"
        )
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"file": "ci.jwks.json"},
            }
        )

        with pytest.raises(
            ClusterKeysError,
            match=r"(?s)^fluxtrust:clusters\[0\]\.jwks\.file: ci\.jwks\.json: invalid "
            r"JWKS.*private member\(s\) d",
        ):
            resolve_cluster_keys(cluster, project_dir=tmp_path)

    def test_generate_has_no_keys_to_read(self, tmp_path: Path) -> None:
        """A generated key is a resource, so there is nothing to read beforehand."""
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"generate": {"algorithm": "ES256"}},
            }
        )

        assert resolve_cluster_keys(cluster, project_dir=tmp_path) is None


class TestFromCluster:
    def test_keys_and_kids_come_from_the_cluster(
        self, tmp_path: Path, cluster_server: LocalServer, ec_key: ec.EllipticCurvePrivateKey
    ) -> None:
        """The JWKS the cluster serves is kept, with its kids and issuer."""
        write_kubeconfig(tmp_path, cluster_server)
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"fromCluster": {"kubeconfig": "kubeconfig", "context": "kind-ci"}},
            }
        )

        keys = resolve_cluster_keys(cluster, project_dir=tmp_path)

        assert keys is not None
        assert keys.jwks == {"keys": [jwk(ec_key)]}
        assert keys.cluster_kids == (jwk(ec_key)["kid"],)
        assert keys.cluster_issuer == KIND_ISSUER
        assert cluster_server.requests[0].headers["Authorization"] == "Bearer test-token"

    def test_kubernetes_kubeconfig_is_the_fallback(
        self, tmp_path: Path, cluster_server: LocalServer
    ) -> None:
        """Without fromCluster.kubeconfig, the cluster's kubernetes.kubeconfig is used."""
        write_kubeconfig(tmp_path, cluster_server, name="ci.kubeconfig")
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"fromCluster": {}},
                "kubernetes": {"kubeconfig": "ci.kubeconfig", "context": "kind-ci"},
            }
        )

        keys = resolve_cluster_keys(cluster, project_dir=tmp_path)

        assert keys is not None
        assert "ci.kubeconfig (context kind-ci)" in keys.source

    def test_issuer_mismatch_names_the_issuer_key(
        self, tmp_path: Path, cluster_server: LocalServer
    ) -> None:
        """A cluster serving another issuer than the configured URL is refused."""
        write_kubeconfig(tmp_path, cluster_server)
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": f"{KIND_ISSUER}/"},
                "jwks": {"fromCluster": {"kubeconfig": "kubeconfig"}},
            }
        )

        with pytest.raises(
            ClusterKeysError,
            match=r"^fluxtrust:clusters\[0\]\.issuer\.url: .*serves issuer "
            r"'https://issuer\.example\.test/ci' but 'https://issuer\.example\.test/ci/' is "
            r"configured.*trailing slash",
        ):
            resolve_cluster_keys(cluster, project_dir=tmp_path)

    def test_hosted_issuer_may_differ_from_the_cluster(
        self, tmp_path: Path, cluster_server: LocalServer
    ) -> None:
        """Before its API server is switched, a cluster serves its old issuer: no error."""
        write_kubeconfig(tmp_path, cluster_server)
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"host": {"cloud": "gcp", "bucket": "acme-ci-issuer"}},
                "jwks": {"fromCluster": {"kubeconfig": "kubeconfig"}},
            }
        )

        keys = resolve_cluster_keys(cluster, project_dir=tmp_path)

        assert keys is not None
        assert keys.cluster_issuer == KIND_ISSUER

    def test_unreachable_cluster_names_the_source(self, tmp_path: Path) -> None:
        """An API server nobody answers on is one error naming fromCluster and the URL."""
        port = free_port()
        kubeconfig = {
            "clusters": [{"name": "ci", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
            "users": [{"name": "reader", "user": {"token": "t"}}],
            "contexts": [{"name": "kind-ci", "context": {"cluster": "ci", "user": "reader"}}],
            "current-context": "kind-ci",
        }
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig), encoding="utf-8")
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"fromCluster": {"kubeconfig": "kubeconfig"}},
            }
        )

        with pytest.raises(
            ClusterKeysError,
            match=rf"^fluxtrust:clusters\[0\]\.jwks\.fromCluster: https://127\.0\.0\.1:{port}/"
            r"\.well-known/openid-configuration .*unreachable",
        ):
            resolve_cluster_keys(cluster, project_dir=tmp_path)

    def test_non_json_answer_is_refused(self, tmp_path: Path, cluster_server: LocalServer) -> None:
        """An endpoint answering HTML instead of JSON is one clear error."""
        cluster_server.set_route("/openid/v1/jwks", 200, b"<html>login</html>")
        write_kubeconfig(tmp_path, cluster_server)
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"fromCluster": {"kubeconfig": "kubeconfig"}},
            }
        )

        with pytest.raises(ClusterKeysError, match=r"jwks\.fromCluster: .*answer is not JSON"):
            resolve_cluster_keys(cluster, project_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# Issuer per source


class TestManagedIssuers:
    def test_url_is_kept_exactly(self, tmp_path: Path) -> None:
        """A configured URL is the issuer byte for byte, trailing slash included."""
        url = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"
        clusters = [{"name": "prod", "type": "aks", "issuer": {"url": url}}]

        plan = plan_issuers(clusters, tmp_path)

        assert plan.outputs["prod.issuer_url"] == url
        assert plan.outputs["prod.trusted_issuers"] == [url]
        assert "prod.jwks_uri" not in plan.outputs
        assert "prod.api_server_flags" not in plan.outputs
        assert [r.type for r in plan.resources] == ["fluxtrust:issuer:ClusterIssuer"]

    def test_eks_lookup_reads_the_cluster_oidc_issuer(self, tmp_path: Path) -> None:
        """An EKS look-up yields the cluster's OIDC issuer, in the look-up's own region."""
        clusters = [
            {
                "name": "prod",
                "type": "eks",
                "issuer": {"lookup": {"name": "prod", "region": "us-east-2"}},
            }
        ]

        plan = plan_issuers(clusters, tmp_path)

        assert plan.outputs["prod.issuer_url"].startswith(
            "https://oidc.eks.us-east-2.amazonaws.com/id/"
        )

    def test_eks_lookup_defaults_to_the_aws_region(self, tmp_path: Path) -> None:
        """Without its own region, an EKS look-up uses fluxtrust:aws.region."""
        clusters = [{"name": "prod", "type": "eks", "issuer": {"lookup": {"name": "prod"}}}]

        plan = plan_issuers(clusters, tmp_path)

        assert plan.outputs["prod.issuer_url"].startswith(
            "https://oidc.eks.eu-west-1.amazonaws.com/id/"
        )

    def test_aks_lookup_keeps_the_trailing_slash(self, tmp_path: Path) -> None:
        """An AKS look-up yields the OIDC issuer URL exactly as AKS reports it."""
        clusters = [{"name": "prod", "type": "aks", "issuer": {"lookup": {"name": "prod-aks"}}}]

        plan = plan_issuers(clusters, tmp_path)

        url = plan.outputs["prod.issuer_url"]
        assert url.startswith("https://westeurope.oic.prod-aks.azure.com/11111111-")
        assert url.endswith("/")

    @pytest.mark.usefixtures("aks_oidc_disabled")
    def test_aks_with_oidc_disabled_says_how_to_enable_it(self, tmp_path: Path) -> None:
        """An AKS cluster without an OIDC issuer fails with the command that enables it."""
        clusters = [{"name": "prod", "type": "aks", "issuer": {"lookup": {"name": "prod-aks"}}}]

        with pytest.raises(
            AksOidcIssuerDisabledError,
            match=r"^fluxtrust:clusters\[0\]\.issuer\.lookup: AKS cluster 'prod-aks' in resource "
            r"group 'platform' has its OIDC issuer disabled; enable it with `az aks update "
            r"--resource-group platform --name prod-aks --enable-oidc-issuer`",
        ):
            plan_issuers(clusters, tmp_path)

    def test_gke_issuer_is_built_from_project_location_name(self, tmp_path: Path) -> None:
        """A GKE issuer is built without a look-up, in fluxtrust:gcp.project by default."""
        clusters = [
            {
                "name": "prod",
                "type": "gke",
                "issuer": {"lookup": {"name": "prod", "location": "europe-west1"}},
            }
        ]

        plan = plan_issuers(clusters, tmp_path)

        assert plan.outputs["prod.issuer_url"] == (
            "https://container.googleapis.com/v1/projects/acme-platform/locations/europe-west1/"
            "clusters/prod"
        )

    def test_gke_issuer_in_another_project(self, tmp_path: Path) -> None:
        """A GKE look-up's own project wins over fluxtrust:gcp.project."""
        lookup = {"name": "edge", "location": "us-central1-a", "project": "acme-edge"}
        clusters = [{"name": "edge", "type": "gke", "issuer": {"lookup": lookup}}]

        plan = plan_issuers(clusters, tmp_path)

        assert plan.outputs["edge.issuer_url"] == (
            "https://container.googleapis.com/v1/projects/acme-edge/locations/us-central1-a/"
            "clusters/edge"
        )

    def test_previous_issuers_follow_the_current_one(self, tmp_path: Path) -> None:
        """Trusted issuers list the current one first, then those being retired, in order."""
        clusters = [
            {
                "name": "prod",
                "type": "eks",
                "issuer": {"url": "https://oidc.eks.eu-west-1.amazonaws.com/id/NEW"},
                "previousIssuers": [
                    "https://oidc.eks.eu-west-1.amazonaws.com/id/OLD",
                    "https://oidc.eks.eu-west-1.amazonaws.com/id/OLDER",
                ],
            }
        ]

        plan = plan_issuers(clusters, tmp_path)

        assert plan.outputs["prod.trusted_issuers"] == [
            "https://oidc.eks.eu-west-1.amazonaws.com/id/NEW",
            "https://oidc.eks.eu-west-1.amazonaws.com/id/OLD",
            "https://oidc.eks.eu-west-1.amazonaws.com/id/OLDER",
        ]

    def test_known_keys_are_given_as_canonical_jwks(
        self, key_dir: Path, ec_key: ec.EllipticCurvePrivateKey
    ) -> None:
        """A managed cluster with known keys exposes them for GCP to be given directly."""
        clusters = [
            {
                "name": "prod",
                "type": "gke",
                "issuer": {"lookup": {"name": "prod", "location": "europe-west1"}},
                "jwks": {"publicKeys": ["keys/ec.pub"]},
            }
        ]

        plan = plan_issuers(clusters, key_dir)

        assert plan.outputs["prod.jwks_json"] == canonical_json({"keys": [jwk(ec_key)]})
        assert "prod.api_server_flags" not in plan.outputs


class TestSelfHostedIssuer:
    def test_api_server_flags_put_the_new_issuer_first(self, key_dir: Path) -> None:
        """The flags sign with the hosted issuer, keep the old ones, and point at the JWKS."""
        clusters = [
            {
                "name": "ci",
                "type": "other",
                "issuer": {"host": {"cloud": "aws", "bucket": "acme-ci-issuer"}},
                "jwks": {"publicKeys": ["keys/ec.pub"]},
                "previousIssuers": ["https://kubernetes.default.svc.cluster.local"],
            }
        ]

        plan = plan_issuers(clusters, key_dir)

        issuer = "https://acme-ci-issuer.s3.eu-west-1.amazonaws.com"
        assert plan.outputs["ci.issuer_url"] == issuer
        assert plan.outputs["ci.jwks_uri"] == f"{issuer}/openid/v1/jwks"
        assert plan.outputs["ci.api_server_flags"] == [
            f"--service-account-issuer={issuer}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-jwks-uri={issuer}/openid/v1/jwks",
        ]
        assert "ci.signing_key_pem" not in plan.outputs

    def test_custom_url_overrides_the_bucket_url(self, key_dir: Path) -> None:
        """A custom domain in front of the bucket is the issuer, and names the JWKS URI."""
        host = {"cloud": "gcp", "bucket": "acme-ci-issuer", "url": "https://oidc.acme.example"}
        clusters = [
            {
                "name": "ci",
                "type": "other",
                "issuer": {"host": host},
                "jwks": {"publicKeys": ["keys/ec.pub"]},
            }
        ]

        plan = plan_issuers(clusters, key_dir)

        assert plan.outputs["ci.issuer_url"] == "https://oidc.acme.example"
        assert plan.outputs["ci.jwks_uri"] == "https://oidc.acme.example/openid/v1/jwks"


class TestGeneratedKey:
    CLUSTER: dict[str, Any] = {  # noqa: RUF012 (read-only test data)
        "name": "ci",
        "type": "other",
        "issuer": {"host": {"cloud": "aws", "bucket": "acme-ci-issuer"}},
        "jwks": {"generate": {"algorithm": "ES256"}},
    }

    def test_two_runs_give_the_same_plan(self, tmp_path: Path) -> None:
        """The generated key is state, not a new key per run: plans are byte-identical."""
        first = plan_issuers([self.CLUSTER], tmp_path)

        second = plan_issuers([self.CLUSTER], tmp_path)

        assert first.dumps() == second.dumps()

    def test_jwks_matches_the_secret_key(self, tmp_path: Path) -> None:
        """The published JWKS holds the public half of the exported signing key."""
        captured: dict[str, Any] = {}

        plan_issuers([self.CLUSTER], tmp_path, captured=captured)

        private = serialization.load_pem_private_key(
            captured["ci.signing_key_pem"].encode(), password=None
        )
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        assert json.loads(captured["ci.jwks_json"]) == {"keys": [jwk(private)]}

    def test_private_key_shows_as_secret(self, tmp_path: Path) -> None:
        """The plan never prints the private key, and declares it as a TLS key resource."""
        plan = plan_issuers([self.CLUSTER], tmp_path)

        assert plan.outputs["ci.signing_key_pem"] == SECRET_PLACEHOLDER
        key = plan.named("ci-signing-key")
        assert key.type == "tls:index/privateKey:PrivateKey"
        assert key.inputs == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}
        assert "PRIVATE KEY" not in plan.dumps()

    def test_kind_config_sets_the_issuer_and_jwks_uri(self, tmp_path: Path) -> None:
        """The kind configuration passes the hosted issuer and its JWKS URI to the API server."""
        plan = plan_issuers([self.CLUSTER], tmp_path)

        kind = yaml.safe_load(plan.outputs["ci.kind_config"])
        patch = yaml.safe_load(kind["kubeadmConfigPatches"][0])
        issuer = "https://acme-ci-issuer.s3.eu-west-1.amazonaws.com"
        assert patch["apiServer"]["extraArgs"]["service-account-issuer"] == issuer
        assert patch["apiServer"]["extraArgs"]["service-account-jwks-uri"] == (
            f"{issuer}/openid/v1/jwks"
        )

    def test_rs256_is_an_rsa_2048_key(self, tmp_path: Path) -> None:
        """RS256, the default, declares an RSA 2048 key and publishes an RS256 JWK."""
        cluster = {**self.CLUSTER, "jwks": {"generate": True}}

        plan = plan_issuers([cluster], tmp_path)

        assert plan.named("ci-signing-key").inputs == {"algorithm": "RSA", "rsaBits": 2048}
        (published,) = json.loads(plan.outputs["ci.jwks_json"])["keys"]
        assert published["alg"] == "RS256"
        assert len(base64.urlsafe_b64decode(published["n"] + "==")) == 256


class TestChecks:
    def test_previous_issuer_equal_to_the_hosted_one_is_refused(self) -> None:
        """A hosted issuer cannot also be listed as the issuer it replaces."""
        cluster = ClusterConfig(
            "ci",
            "other",
            IssuerHost("aws", bucket="acme-ci-issuer"),
            jwks=JwksGenerate("ES256"),
            previous_issuers=("https://acme-ci-issuer.s3.eu-west-1.amazonaws.com",),
        )
        args = ClusterIssuerArgs(cluster, None, aws=AwsSettings(region="eu-west-1"))

        with pytest.raises(
            IssuerError,
            match=r"^fluxtrust:clusters\[0\]\.previousIssuers\[0\]: is the cluster's current "
            r"issuer",
        ):
            check_cluster_issuer(args)

    def test_hosted_issuer_needs_its_cloud_settings(self) -> None:
        """An S3-hosted issuer without fluxtrust:aws cannot place its bucket."""
        cluster = ClusterConfig(
            "ci", "other", IssuerHost("aws", bucket="acme-ci-issuer"), jwks=JwksGenerate()
        )

        with pytest.raises(
            IssuerError,
            match=r"issuer\.host\.cloud: is aws, which needs fluxtrust:aws to be set",
        ):
            check_cluster_issuer(ClusterIssuerArgs(cluster, None))

    def test_unresolved_keys_are_a_programming_error(self) -> None:
        """Keys listed in the configuration must be read with resolve_cluster_keys first."""
        cluster = cluster_of(
            {
                "name": "ci",
                "type": "other",
                "issuer": {"url": KIND_ISSUER},
                "jwks": {"file": "ci.jwks.json"},
            }
        )

        with pytest.raises(ValueError, match=r"pass the keys from resolve_cluster_keys\(\)"):
            check_cluster_issuer(ClusterIssuerArgs(cluster, None))
