"""Tests for fluxtrust.issuer_hosting: what each cloud's bucket exposes, and what it serves."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fluxtrust.config import parse_stack_config
from fluxtrust.issuer import ClusterIssuer, ClusterIssuerArgs, resolve_cluster_keys
from fluxtrust.issuer_hosting import S3IssuerHost, S3IssuerHostArgs
from fluxtrust.jwks import jwk_from_public_key
from fluxtrust.plan import Plan, PlannedResource, run_plan

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
KEYS = ["keys/rsa.pub", "keys/ec.pub"]
CLUSTERS: list[dict[str, Any]] = [
    {
        "name": "on-s3",
        "type": "other",
        "issuer": {"host": {"cloud": "aws", "bucket": "acme-s3-issuer"}},
        "jwks": {"publicKeys": KEYS},
    },
    {
        "name": "on-blob",
        "type": "other",
        "issuer": {
            "host": {"cloud": "azure", "storageAccount": "acmeissuer", "container": "ci-kind"}
        },
        "jwks": {"publicKeys": KEYS},
    },
    {
        "name": "on-gcs",
        "type": "other",
        "issuer": {"host": {"cloud": "gcp", "bucket": "acme-gcs-issuer"}},
        "jwks": {"publicKeys": KEYS},
    },
    {
        "name": "behind-cdn",
        "type": "other",
        "issuer": {
            "host": {
                "cloud": "aws",
                "bucket": "acme-cdn-issuer",
                "url": "https://oidc.acme.example",
            }
        },
        "jwks": {"publicKeys": KEYS},
    },
]
ISSUERS = {
    "on-s3": "https://acme-s3-issuer.s3.eu-west-1.amazonaws.com",
    "on-blob": "https://acmeissuer.blob.core.windows.net/ci-kind",
    "on-gcs": "https://storage.googleapis.com/acme-gcs-issuer",
    "behind-cdn": "https://oidc.acme.example",
}
S3 = "aws:s3/"
DISCOVERY_KEY = ".well-known/openid-configuration"
JWKS_KEY = "openid/v1/jwks"


def pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def expected_jwks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JWKS of the two keys written into the project directory, sorted by kid."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    project = tmp_path_factory.getbasetemp() / "hosting"
    (project / "keys").mkdir(parents=True)
    (project / "keys" / "rsa.pub").write_bytes(pem_public(rsa_key))
    (project / "keys" / "ec.pub").write_bytes(pem_public(ec_key))
    keys = [jwk_from_public_key(k.public_key(), source="test") for k in (rsa_key, ec_key)]
    return {"keys": sorted(keys, key=lambda k: k["kid"])}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory, expected_jwks: dict[str, Any]) -> Plan:
    """One issuer hosted in each cloud, and one behind a custom domain, planned once."""
    project = tmp_path_factory.getbasetemp() / "hosting"
    raw = {**SETTINGS, "clusters": CLUSTERS}

    def program() -> None:
        config = parse_stack_config(raw)
        for c in config.clusters:
            keys = resolve_cluster_keys(c, project_dir=project)
            issuer = ClusterIssuer(
                c.name, ClusterIssuerArgs(c, keys, config.aws, config.azure, config.gcp)
            )
            pulumi.export(f"{c.name}.issuer_url", issuer.issuer_url)

    return run_plan(raw, stack="test", program=program, project_dir=project)


def children(plan: Plan, host: str, type_token: str) -> list[PlannedResource]:
    """The resources of one type declared by the host component `host`."""
    return [r for r in plan.of_type(type_token) if r.parent == host]


def content(resource: PlannedResource) -> str:
    """The text an object or blob is uploaded with: inline content, or a string asset."""
    inputs = resource.inputs
    return str(inputs["content"] if "content" in inputs else inputs["source"]["asset"])


def served(plan: Plan, host: str, type_token: str, key_input: str) -> dict[str, Any]:
    """Object key -> the resource's inputs and its parsed JSON content."""
    return {
        r.inputs[key_input]: {"inputs": r.inputs, "document": json.loads(content(r))}
        for r in children(plan, host, type_token)
    }


def check_documents(documents: dict[str, Any], issuer: str, expected_jwks: dict[str, Any]) -> None:
    """Exactly the two documents, the discovery one naming the issuer and its JWKS."""
    assert set(documents) == {DISCOVERY_KEY, JWKS_KEY}
    assert documents[DISCOVERY_KEY]["document"] == {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }
    assert documents[JWKS_KEY]["document"] == expected_jwks
    for served_object in documents.values():
        assert served_object["inputs"]["contentType"] == "application/json"


class TestS3Host:
    def test_block_public_access_keeps_acls_blocked(self, plan: Plan) -> None:
        """ACLs stay blocked and ignored; only the bucket policy may make objects public."""
        (block,) = children(
            plan,
            "on-s3-host-acme-s3-issuer",
            f"{S3}bucketPublicAccessBlock:BucketPublicAccessBlock",
        )

        assert block.inputs == {
            "bucket": "acme-s3-issuer",
            "region": "eu-west-1",
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": False,
            "restrictPublicBuckets": False,
        }

    def test_acls_disabled_encryption_and_versioning_on(self, plan: Plan) -> None:
        """Ownership is enforced (no ACLs), SSE-S3 is the default, versions are kept."""
        (ownership,) = children(
            plan,
            "on-s3-host-acme-s3-issuer",
            f"{S3}bucketOwnershipControls:BucketOwnershipControls",
        )
        (encryption,) = children(
            plan,
            "on-s3-host-acme-s3-issuer",
            f"{S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        )
        (versioning,) = children(
            plan, "on-s3-host-acme-s3-issuer", f"{S3}bucketVersioning:BucketVersioning"
        )

        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        assert encryption.inputs["rules"] == [
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
        ]
        assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}

    def test_policy_allows_reading_the_two_objects_only(self, plan: Plan) -> None:
        """Anyone may GetObject on exactly the two keys; nothing else, and never without TLS."""
        (policy,) = children(plan, "on-s3-host-acme-s3-issuer", f"{S3}bucketPolicy:BucketPolicy")

        document = json.loads(policy.inputs["policy"])
        assert document == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadOfIssuerDocuments",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": [
                        "arn:aws:s3:::acme-s3-issuer/.well-known/openid-configuration",
                        "arn:aws:s3:::acme-s3-issuer/openid/v1/jwks",
                    ],
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::acme-s3-issuer", "arn:aws:s3:::acme-s3-issuer/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }

    def test_policy_waits_for_the_public_access_block(self, plan: Plan) -> None:
        """S3 refuses a public policy until Block Public Access allows policies."""
        (policy,) = children(plan, "on-s3-host-acme-s3-issuer", f"{S3}bucketPolicy:BucketPolicy")

        assert "on-s3-host-acme-s3-issuer-public-access" in policy.depends_on

    def test_bucket_is_created_in_the_issuer_region(self, plan: Plan) -> None:
        """The bucket's region is the one its issuer URL names."""
        (bucket,) = children(plan, "on-s3-host-acme-s3-issuer", f"{S3}bucket:Bucket")

        assert bucket.inputs == {"bucket": "acme-s3-issuer", "region": "eu-west-1"}

    def test_serves_the_two_documents(self, plan: Plan, expected_jwks: dict[str, Any]) -> None:
        """The bucket holds the discovery document and the JWKS, as JSON, briefly cached."""
        documents = served(
            plan, "on-s3-host-acme-s3-issuer", f"{S3}bucketObjectv2:BucketObjectv2", "key"
        )

        check_documents(documents, ISSUERS["on-s3"], expected_jwks)
        assert {d["inputs"]["cacheControl"] for d in documents.values()} == {"public, max-age=300"}


class TestAzureBlobHost:
    def test_account_allows_public_blobs_over_tls_only(self, plan: Plan) -> None:
        """The account lets containers be public, over HTTPS with TLS 1.2 or later."""
        (account,) = children(
            plan, "on-blob-host-acmeissuer-ci-kind", "azure-native:storage:StorageAccount"
        )

        assert account.inputs == {
            "accountName": "acmeissuer",
            "resourceGroupName": "platform",
            "location": "westeurope",
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS"},
            "allowBlobPublicAccess": True,
            "enableHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "allowSharedKeyAccess": True,
            "allowCrossTenantReplication": False,
        }

    def test_container_allows_reading_blobs_not_listing(self, plan: Plan) -> None:
        """Blob-level access: named blobs are readable, the container cannot be listed."""
        (container,) = children(
            plan, "on-blob-host-acmeissuer-ci-kind", "azure-native:storage:BlobContainer"
        )

        assert container.inputs["containerName"] == "ci-kind"
        assert container.inputs["publicAccess"] == "Blob"

    def test_serves_the_two_documents(self, plan: Plan, expected_jwks: dict[str, Any]) -> None:
        """The container holds the discovery document and the JWKS as block blobs."""
        documents = served(
            plan, "on-blob-host-acmeissuer-ci-kind", "azure-native:storage:Blob", "blobName"
        )

        check_documents(documents, ISSUERS["on-blob"], expected_jwks)
        assert {d["inputs"]["type"] for d in documents.values()} == {"Block"}


class TestGcsHost:
    def test_bucket_uses_iam_only(self, plan: Plan) -> None:
        """Uniform bucket-level access, and public access prevention left to the organisation."""
        (bucket,) = children(plan, "on-gcs-host-acme-gcs-issuer", "gcp:storage/bucket:Bucket")

        assert bucket.inputs["name"] == "acme-gcs-issuer"
        assert bucket.inputs["project"] == "acme-platform"
        assert bucket.inputs["uniformBucketLevelAccess"] is True
        assert bucket.inputs["publicAccessPrevention"] == "inherited"

    def test_all_users_may_read_objects_not_list(self, plan: Plan) -> None:
        """The one grant is allUsers as legacy object reader (get, no list)."""
        grants = children(
            plan, "on-gcs-host-acme-gcs-issuer", "gcp:storage/bucketIAMMember:BucketIAMMember"
        )

        assert [g.inputs for g in grants] == [
            {
                "bucket": "acme-gcs-issuer",
                "member": "allUsers",
                "role": "roles/storage.legacyObjectReader",
            }
        ]

    def test_serves_the_two_documents(self, plan: Plan, expected_jwks: dict[str, Any]) -> None:
        """The bucket holds both documents as JSON, cached five minutes at most."""
        documents = served(
            plan, "on-gcs-host-acme-gcs-issuer", "gcp:storage/bucketObject:BucketObject", "name"
        )

        check_documents(documents, ISSUERS["on-gcs"], expected_jwks)
        assert {d["inputs"]["cacheControl"] for d in documents.values()} == {"public, max-age=300"}


class TestComposition:
    def test_custom_domain_is_the_issuer_in_the_documents(
        self, plan: Plan, expected_jwks: dict[str, Any]
    ) -> None:
        """Behind a CDN, the documents name the custom URL; the bucket keeps its own name."""
        documents = served(
            plan, "behind-cdn-host-acme-cdn-issuer", f"{S3}bucketObjectv2:BucketObjectv2", "key"
        )

        check_documents(documents, ISSUERS["behind-cdn"], expected_jwks)
        assert plan.outputs["behind-cdn.issuer_url"] == "https://oidc.acme.example"

    def test_issuer_urls_per_cloud(self, plan: Plan) -> None:
        """Each cloud yields its exact issuer URL, without a trailing slash."""
        urls = {name: plan.outputs[f"{name}.issuer_url"] for name in ISSUERS}

        assert urls == ISSUERS

    def test_hosts_hang_under_their_issuer(self, plan: Plan) -> None:
        """Each host is a child of its ClusterIssuer, and every bucket resource of its host."""
        hosts = {
            r.name: r for r in plan.resources if r.type.startswith("fluxtrust:issuer:") and r.parent
        }

        assert {name: (r.type, r.parent) for name, r in hosts.items()} == {
            "on-s3-host-acme-s3-issuer": ("fluxtrust:issuer:S3IssuerHost", "on-s3"),
            "on-blob-host-acmeissuer-ci-kind": ("fluxtrust:issuer:AzureBlobIssuerHost", "on-blob"),
            "on-gcs-host-acme-gcs-issuer": ("fluxtrust:issuer:GcsIssuerHost", "on-gcs"),
            "behind-cdn-host-acme-cdn-issuer": ("fluxtrust:issuer:S3IssuerHost", "behind-cdn"),
        }
        for resource in plan.resources:
            if resource.custom:
                assert resource.parent in hosts
                assert resource.name.startswith(f"{resource.parent}-")

    def test_host_is_usable_on_its_own(self) -> None:
        """S3IssuerHost works from any program, given plain documents."""

        def program() -> None:
            host = S3IssuerHost(
                "solo",
                S3IssuerHostArgs(
                    bucket="solo-issuer",
                    region="us-east-2",
                    discovery_json='{"issuer":"x"}',
                    jwks_json='{"keys":[]}',
                ),
            )
            pulumi.export("discovery", host.discovery_url)

        plan = run_plan({}, stack="test", program=program)

        assert plan.outputs["discovery"] == (
            "https://solo-issuer.s3.us-east-2.amazonaws.com/.well-known/openid-configuration"
        )
        assert plan.named("solo-jwks").inputs["content"] == '{"keys":[]}'
