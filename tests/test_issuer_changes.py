"""Issuer changes on copies of the example stacks: migration trusts both issuers, rotation updates
every JWKS copy, and neither deletes anything a running cluster relies on."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fluxtrust.config import load_stack_file
from fluxtrust.diff import diff_plans
from fluxtrust.errors import ConfigError
from fluxtrust.plan import Plan, PlannedResource, run_plan
from fluxtrust.trust_policy import TrustLimitError

REPO = Path(__file__).resolve().parents[1]
KIND = "https://acme-ci-kind-issuer.s3.eu-west-1.amazonaws.com"
OLD_KIND = "https://kind-ci.acme.example"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
GCP_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"


@pytest.fixture(scope="module")
def dev(project: Path) -> dict[str, Any]:
    """The default stack's values."""
    return load_stack_file(project / "stacks" / "Pulumi.dev.yaml")


def cluster(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The named cluster entry of a configuration (for editing a copy)."""
    found: dict[str, Any] = next(c for c in config["clusters"] if c["name"] == name)
    return found


def with_previous_kind_issuer(config: dict[str, Any], quota: int | None) -> dict[str, Any]:
    """ci-kind mid-migration: its old issuer still trusted next to the S3-hosted one."""
    changed = copy.deepcopy(config)
    cluster(changed, "ci-kind")["previousIssuers"] = [OLD_KIND]
    if quota is not None:
        changed["aws"]["trustPolicyMaxChars"] = quota
    return changed


def trust_statements(role: PlannedResource) -> dict[str, dict[str, Any]]:
    """The role's trust statements keyed by the federated provider's ARN."""
    policy = json.loads(role.inputs["assumeRolePolicy"])
    return {s["Principal"]["Federated"]: s for s in policy["Statement"]}


class TestMigration:
    def test_both_issuers_are_trusted_in_every_cloud(
        self, project: Path, dev: dict[str, Any]
    ) -> None:
        """With previousIssuers, AWS, Azure and GCP each trust the old and the new issuer."""
        plan = run_plan(with_previous_kind_issuer(dev, 4096), stack="dev", project_dir=project)

        providers = {p.inputs["url"]: p for p in plan.of_type(OIDC_PROVIDER)}
        assert {KIND, OLD_KIND} <= set(providers)
        role = next(r for r in plan.of_type(ROLE) if r.inputs["name"] == "fluxtrust-dev-source-oci")
        statements = trust_statements(role)
        for issuer in (KIND, OLD_KIND):
            host = issuer.removeprefix("https://")
            arn = f"arn:aws:iam::123456789012:oidc-provider/{host}"
            assert statements[arn]["Condition"]["StringEquals"] == {
                f"{host}:aud": "sts.amazonaws.com",
                f"{host}:sub": "system:serviceaccount:flux-system:source-controller",
            }
        issuers = {
            (c.inputs["issuer"], c.inputs["subject"])
            for c in plan.of_type(CREDENTIAL)
            if c.inputs["resourceName"] == "fluxtrust-dev-source-oci"
        }
        assert (KIND, "system:serviceaccount:flux-system:source-controller") in issuers
        assert (OLD_KIND, "system:serviceaccount:flux-system:source-controller") in issuers
        gcp = {p.inputs["oidc"]["issuerUri"] for p in plan.of_type(GCP_PROVIDER)}
        assert {KIND, OLD_KIND} <= gcp

    def test_flags_put_the_new_issuer_first(self, project: Path, dev: dict[str, Any]) -> None:
        """The API server signs with its first issuer: the new one leads, the old one follows."""
        plan = run_plan(with_previous_kind_issuer(dev, 4096), stack="dev", project_dir=project)

        flags = plan.outputs["issuers"]["ci-kind"]["apiServerFlags"]
        assert flags == [
            f"--service-account-issuer={KIND}",
            f"--service-account-issuer={OLD_KIND}",
            f"--service-account-jwks-uri={KIND}/openid/v1/jwks",
        ]
        assert "retiring https://kind-ci.acme.example" in plan.outputs["migrationGuides"]["ci-kind"]

    def test_adding_a_previous_issuer_only_adds_trust(
        self, project: Path, dev: dict[str, Any]
    ) -> None:
        """Starting a migration adds resources and trust; it removes and replaces nothing."""
        before = run_plan(
            {**dev, "aws": {**dev["aws"], "trustPolicyMaxChars": 4096}},
            stack="dev",
            project_dir=project,
        )
        after = run_plan(with_previous_kind_issuer(dev, 4096), stack="dev", project_dir=project)

        result = diff_plans(before, after)

        assert result.removed == ()
        assert not any(c.replace for c in result.changed)
        assert result.interruptions == 0
        assert {r.type for r in result.added} >= {OIDC_PROVIDER, CREDENTIAL, GCP_PROVIDER}

    def test_a_policy_over_the_default_quota_is_refused(
        self, project: Path, dev: dict[str, Any]
    ) -> None:
        """Five trusted issuers overflow IAM's default 2,048 characters: one clear error."""
        with pytest.raises(TrustLimitError, match=r"fluxtrust:aws\.trustPolicyMaxChars"):
            run_plan(with_previous_kind_issuer(dev, None), stack="dev", project_dir=project)

    def test_quota_outside_what_iam_grants_is_refused(self, dev: dict[str, Any]) -> None:
        """trustPolicyMaxChars is 2,048 to 4,096, IAM's default and its highest quota."""
        from fluxtrust.config import parse_stack_config

        with pytest.raises(ConfigError, match=r"fluxtrust:aws\.trustPolicyMaxChars: is 10000"):
            parse_stack_config({**dev, "aws": {**dev["aws"], "trustPolicyMaxChars": 10000}})


@pytest.fixture(scope="module")
def rotated(project: Path, dev: dict[str, Any]) -> tuple[Plan, Plan]:
    """ci-kind before and after a second (EC) key is added to its JWKS."""
    key = ec.generate_private_key(ec.SECP256R1())
    (project / "stacks" / "keys" / "ci-kind-next.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    rotated = copy.deepcopy(dev)
    cluster(rotated, "ci-kind")["jwks"]["publicKeys"].append("stacks/keys/ci-kind-next.pub")
    before = run_plan(dev, stack="dev", project_dir=project)
    after = run_plan(rotated, stack="dev", project_dir=project)
    return before, after


class TestRotation:
    def test_every_jwks_copy_is_updated_in_one_update(self, rotated: tuple[Plan, Plan]) -> None:
        """The bucket's JWKS, its discovery document and GCP's uploaded JWKS change together."""
        before, after = rotated

        result = diff_plans(before, after)

        changed = {(c.type, c.name): c.keys for c in result.changed}
        assert changed == {
            (
                "aws:s3/bucketObjectv2:BucketObjectv2",
                "fluxtrust-ci-kind-host-acme-ci-kind-issuer-jwks",
            ): ("content",),
            (
                "aws:s3/bucketObjectv2:BucketObjectv2",
                "fluxtrust-ci-kind-host-acme-ci-kind-issuer-discovery",
            ): ("content",),
            (GCP_PROVIDER, "fluxtrust-ci-kind-gcp-ci-kind-6dbc4a5b-provider"): ("oidc.jwksJson",),
        }
        assert result.added == ()
        assert result.removed == ()
        assert result.interruptions == 0

    def test_both_keys_are_published(self, rotated: tuple[Plan, Plan]) -> None:
        """After the update, each copy holds the old and the new key."""
        _, after = rotated

        jwks_object = after.named("fluxtrust-ci-kind-host-acme-ci-kind-issuer-jwks")
        provider = after.named("fluxtrust-ci-kind-gcp-ci-kind-6dbc4a5b-provider")
        for document in (jwks_object.inputs["content"], provider.inputs["oidc"]["jwksJson"]):
            keys = json.loads(document)["keys"]
            assert sorted(k["kty"] for k in keys) == ["EC", "RSA"]
        discovery = json.loads(
            after.named("fluxtrust-ci-kind-host-acme-ci-kind-issuer-discovery").inputs["content"]
        )
        assert discovery["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]


class TestRotationInGcs:
    def test_replaced_documents_are_not_deleted_first(self, project: Path) -> None:
        """GCS objects are replaced on new content; retained, the new upload is never deleted."""
        onprem = load_stack_file(project / "stacks" / "Pulumi.onprem.yaml")
        document = json.loads((project / "stacks" / "keys" / "edge-gcs.jwks.json").read_text())
        smaller = copy.deepcopy(document)
        smaller["keys"] = [k for k in document["keys"] if k["kty"] == "EC"]
        (project / "stacks" / "keys" / "edge-gcs-ec.jwks.json").write_text(json.dumps(smaller))
        rotated = copy.deepcopy(onprem)
        cluster(rotated, "edge-gcs")["jwks"]["file"] = "stacks/keys/edge-gcs-ec.jwks.json"

        result = diff_plans(
            run_plan(onprem, stack="onprem", project_dir=project),
            run_plan(rotated, stack="onprem", project_dir=project),
        )

        objects = [c for c in result.changed if c.type == "gcp:storage/bucketObject:BucketObject"]
        assert objects
        assert all(c.replace and not c.delete_before_replace for c in objects)
        # Dropping the RSA key is still flagged: tokens it signed stop verifying.
        assert any("drops key" in reason for c in objects for reason in c.interrupts)
        assert not any(
            "before creating its replacement" in r for c in objects for r in c.interrupts
        )


class TestRenames:
    def test_renamed_cluster_and_identity_replace_nothing(
        self, project: Path, dev: dict[str, Any]
    ) -> None:
        """With formerNames, a rename only updates labels in place: nothing added or removed."""
        renamed = copy.deepcopy(dev)
        kind = cluster(renamed, "ci-kind")
        kind["name"], kind["formerNames"] = "ci", ["ci-kind"]
        for identity in renamed["identities"]:
            identity["clusters"] = ["ci" if c == "ci-kind" else c for c in identity["clusters"]]
            if identity["name"] == "tenant-apps":
                identity["name"], identity["formerNames"] = "tenants", ["tenant-apps"]

        result = diff_plans(
            run_plan(dev, stack="dev", project_dir=project),
            run_plan(renamed, stack="dev", project_dir=project),
        )

        assert result.added == ()
        assert result.removed == ()
        assert not any(c.replace for c in result.changed)
        assert result.interruptions == 0

    def test_former_name_of_another_entry_is_refused(self, dev: dict[str, Any]) -> None:
        """A former name that is another cluster's name would make their resources collide."""
        from fluxtrust.config import parse_stack_config

        renamed = copy.deepcopy(dev)
        cluster(renamed, "ci-kind")["formerNames"] = ["prod-eks"]

        with pytest.raises(ConfigError, match=r"formerNames\[0\]: is 'prod-eks', the name of"):
            parse_stack_config(renamed)


class TestMovedBucket:
    def test_moving_a_hosted_issuer_keeps_the_old_bucket_publishing(
        self, project: Path, dev: dict[str, Any]
    ) -> None:
        """Moving ci-kind's issuer to a new bucket adds the new one and leaves the old untouched."""
        moved = copy.deepcopy(dev)
        moved["aws"]["trustPolicyMaxChars"] = 4096
        kind = cluster(moved, "ci-kind")
        kind["issuer"] = {"host": {"cloud": "aws", "bucket": "acme-ci-kind-issuer-v2"}}
        kind["previousIssuers"] = [{"host": {"cloud": "aws", "bucket": "acme-ci-kind-issuer"}}]
        before_config = copy.deepcopy(dev)
        before_config["aws"]["trustPolicyMaxChars"] = 4096

        before = run_plan(before_config, stack="dev", project_dir=project)
        after = run_plan(moved, stack="dev", project_dir=project)
        result = diff_plans(before, after)

        assert result.removed == ()
        assert not any(c.replace for c in result.changed)
        assert result.interruptions == 0
        old_objects = {
            r.name: r.inputs for r in before.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        }
        new_objects = {
            r.name: r.inputs for r in after.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        }
        for name, inputs in old_objects.items():
            assert new_objects[name] == inputs
        assert len(new_objects) == 4
        trusted = after.outputs["issuers"]["ci-kind"]["trustedIssuers"]
        assert trusted == [
            "https://acme-ci-kind-issuer-v2.s3.eu-west-1.amazonaws.com",
            KIND,
        ]

    def test_retired_host_needs_its_cloud(self, dev: dict[str, Any]) -> None:
        """A retired issuer in GCS needs fluxtrust:gcp, like a current one."""
        from fluxtrust.config import parse_stack_config

        moved = copy.deepcopy(dev)
        del moved["gcp"]
        for identity in moved["identities"]:
            identity.pop("gcp", None)
        cluster(moved, "ci-kind")["previousIssuers"] = [
            {"host": {"cloud": "gcp", "bucket": "acme-old-kind-issuer"}}
        ]

        with pytest.raises(ConfigError, match="which needs fluxtrust:gcp to be set"):
            parse_stack_config(moved)


class TestProviderQuota:
    def test_more_providers_than_an_account_holds_is_refused(
        self, project: Path, dev: dict[str, Any]
    ) -> None:
        """101 issuers trusted in AWS exceed IAM's default quota: refused, naming the account."""
        crowded = copy.deepcopy(dev)
        crowded["aws"]["trustPolicyMaxChars"] = 4096
        crowded["identities"] = [i for i in crowded["identities"] if i["name"] == "sops-decrypt"]
        cluster(crowded, "prod-eks")["previousIssuers"] = [
            f"https://old-{n}.acme.example" for n in range(100)
        ]

        with pytest.raises(TrustLimitError, match="'123456789012' would need 101 IAM OIDC"):
            run_plan(crowded, stack="dev", project_dir=project)
