"""Public, read-only hosting of a cluster's OIDC discovery documents, one component per cloud.

Each component declares a dedicated bucket that serves exactly two objects, anonymously and
read-only, with `Content-Type: application/json`:

- `.well-known/openid-configuration`, the discovery document;
- `openid/v1/jwks`, the public keys.

Nothing else is public: no listing, no write, no other key. Clouds fetch both documents over
HTTPS when they verify a service-account token, so the bucket's root URL (or a custom domain
in front of it) is the cluster's issuer.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from .issuer_urls import (
    DISCOVERY_OBJECT_KEY,
    JWKS_OBJECT_KEY,
    azure_container_url,
    gcs_bucket_url,
    s3_bucket_url,
)

__all__ = [
    "AzureBlobIssuerHost",
    "AzureBlobIssuerHostArgs",
    "GcsIssuerHost",
    "GcsIssuerHostArgs",
    "S3IssuerHost",
    "S3IssuerHostArgs",
]

CONTENT_TYPE = "application/json"
# Verifiers and Google's edge cache honour this; a short lifetime means a rotated key is seen
# within minutes instead of the hour GCS gives public objects by default.
CACHE_CONTROL = "public, max-age=300"
OBJECT_KEYS = (DISCOVERY_OBJECT_KEY, JWKS_OBJECT_KEY)


def _published(
    base_url: pulumi.Input[str], objects: list[pulumi.CustomResource]
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The URLs of the two documents, carrying a dependency on the uploaded objects.

    Built from the objects' URNs, which are known during preview, so whatever reads these
    URLs waits for the upload without making the URL unknown in `pulumi preview`.
    """
    urns = [obj.urn for obj in objects]
    discovery = pulumi.Output.all(base_url, *urns).apply(lambda v: f"{v[0]}/{DISCOVERY_OBJECT_KEY}")
    jwks = pulumi.Output.all(base_url, *urns).apply(lambda v: f"{v[0]}/{JWKS_OBJECT_KEY}")
    return discovery, jwks


# --------------------------------------------------------------------------------------------
# AWS S3


@dataclass
class S3IssuerHostArgs:
    """Arguments of `S3IssuerHost`."""

    bucket: pulumi.Input[str]
    """Name of the S3 bucket to create; no dots (they break the virtual-host TLS certificate)."""
    region: pulumi.Input[str]
    """AWS region of the bucket; it is part of the issuer URL."""
    discovery_json: pulumi.Input[str]
    """Canonical JSON text of the discovery document."""
    jwks_json: pulumi.Input[str]
    """Canonical JSON text of the JWKS (public keys only)."""


class S3IssuerHost(pulumi.ComponentResource):
    """An S3 bucket publishing the two issuer documents through a bucket policy.

    ACLs stay disabled and blocked (the default since April 2023); public read is granted by a
    bucket policy on exactly the two object ARNs, which Block Public Access is told to allow.

    Attributes:
        bucket_name: the bucket's name.
        bucket_url: the bucket's regional virtual-hosted URL (the issuer, unless a custom
            domain fronts it).
        discovery_url: URL of the discovery document, resolved once it is uploaded.
        jwks_url: URL of the JWKS, resolved once it is uploaded.
    """

    bucket_name: pulumi.Output[str]
    bucket_url: pulumi.Output[str]
    discovery_url: pulumi.Output[str]
    jwks_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: S3IssuerHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fluxtrust:issuer:S3IssuerHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Every S3 resource names the region explicitly: the issuer URL contains it, so the
        # bucket must not follow whatever region the provider happens to be configured with.
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket, region=args.region, opts=child)

        # ACLs blocked and ignored; only the bucket policy below may grant public access.
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            region=args.region,
            block_public_acls=True,
            ignore_public_acls=True,
            block_public_policy=False,
            restrict_public_buckets=False,
            opts=child,
        )

        # BucketOwnerEnforced disables ACLs altogether, so no object can be made public by one.
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            region=args.region,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )

        # SSE-S3: anonymous readers can fetch the objects, which SSE-KMS would prevent.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            region=args.region,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )

        # Versions keep every JWKS ever published, so a bad rotation can be rolled back.
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            region=args.region,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )

        objects: list[pulumi.CustomResource] = []
        for suffix, key, content in (
            ("discovery", DISCOVERY_OBJECT_KEY, args.discovery_json),
            ("jwks", JWKS_OBJECT_KEY, args.jwks_json),
        ):
            objects.append(
                aws.s3.BucketObjectv2(
                    f"{name}-{suffix}",
                    bucket=bucket.bucket,
                    region=args.region,
                    key=key,
                    content=content,
                    content_type=CONTENT_TYPE,
                    cache_control=CACHE_CONTROL,
                    opts=child,
                )
            )

        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PublicReadOfIssuerDocuments",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        # The two keys only: no s3:ListBucket, no wildcard.
                        "Resource": [pulumi.Output.concat(bucket.arn, "/", k) for k in OBJECT_KEYS],
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ],
            }
        )
        # S3 refuses a public policy while Block Public Access still blocks policies, so the
        # policy waits for the block to be relaxed.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            region=args.region,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_url = pulumi.Output.all(args.bucket, args.region).apply(
            lambda v: s3_bucket_url(v[0], v[1])
        )
        self.discovery_url, self.jwks_url = _published(self.bucket_url, objects)
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketUrl": self.bucket_url,
                "discoveryUrl": self.discovery_url,
                "jwksUrl": self.jwks_url,
            }
        )


# --------------------------------------------------------------------------------------------
# Azure Blob Storage


@dataclass
class AzureBlobIssuerHostArgs:
    """Arguments of `AzureBlobIssuerHost`."""

    storage_account: pulumi.Input[str]
    """Name of the storage account to create (3 to 24 lowercase letters and digits)."""
    container: pulumi.Input[str]
    """Name of the blob container holding the documents; it is part of the issuer URL."""
    resource_group: pulumi.Input[str]
    """Existing resource group the storage account is created in."""
    location: pulumi.Input[str]
    """Azure location of the storage account, e.g. westeurope."""
    discovery_json: pulumi.Input[str]
    """Canonical JSON text of the discovery document."""
    jwks_json: pulumi.Input[str]
    """Canonical JSON text of the JWKS (public keys only)."""


class AzureBlobIssuerHost(pulumi.ComponentResource):
    """A storage account and container publishing the two issuer documents.

    The container grants anonymous read of blobs it names (`Blob` access), never listing
    (`Container` access would let anyone enumerate it).

    Attributes:
        storage_account_name: the storage account's name.
        bucket_url: the container's URL (the issuer, unless a custom domain fronts it).
        discovery_url: URL of the discovery document, resolved once it is uploaded.
        jwks_url: URL of the JWKS, resolved once it is uploaded.
    """

    storage_account_name: pulumi.Output[str]
    bucket_url: pulumi.Output[str]
    discovery_url: pulumi.Output[str]
    jwks_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: AzureBlobIssuerHostArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("fluxtrust:issuer:AzureBlobIssuerHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        storage = azure_native.storage

        account = storage.StorageAccount(
            f"{name}-account",
            account_name=args.storage_account,
            resource_group_name=args.resource_group,
            location=args.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            # New accounts refuse anonymous access outright; the container below still decides
            # what is readable, and it allows reading named blobs only.
            allow_blob_public_access=True,
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            # The provider uploads blobs with the account key and fails without shared key
            # access (pulumi/pulumi-azure-native#2015); reads stay anonymous either way.
            allow_shared_key_access=True,
            allow_cross_tenant_replication=False,
            opts=child,
        )

        container = storage.BlobContainer(
            f"{name}-container",
            account_name=account.name,
            resource_group_name=args.resource_group,
            container_name=args.container,
            public_access=storage.PublicAccess.BLOB,
            opts=child,
        )

        # As for GCS objects: if new content replaces a blob under the same name, deleting the
        # replaced blob would remove the one just uploaded. Retained blobs go with their
        # container if the issuer is ever removed.
        retained = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        objects: list[pulumi.CustomResource] = []
        for suffix, key, content in (
            ("discovery", DISCOVERY_OBJECT_KEY, args.discovery_json),
            ("jwks", JWKS_OBJECT_KEY, args.jwks_json),
        ):
            objects.append(
                storage.Blob(
                    f"{name}-{suffix}",
                    account_name=account.name,
                    resource_group_name=args.resource_group,
                    container_name=container.name,
                    blob_name=key,
                    type=storage.BlobType.BLOCK,
                    content_type=CONTENT_TYPE,
                    source=pulumi.Output.from_input(content).apply(pulumi.StringAsset),
                    opts=retained,
                )
            )

        self.storage_account_name = account.name
        self.bucket_url = pulumi.Output.all(args.storage_account, args.container).apply(
            lambda v: azure_container_url(v[0], v[1])
        )
        self.discovery_url, self.jwks_url = _published(self.bucket_url, objects)
        self.register_outputs(
            {
                "storageAccountName": self.storage_account_name,
                "bucketUrl": self.bucket_url,
                "discoveryUrl": self.discovery_url,
                "jwksUrl": self.jwks_url,
            }
        )


# --------------------------------------------------------------------------------------------
# Google Cloud Storage


@dataclass
class GcsIssuerHostArgs:
    """Arguments of `GcsIssuerHost`."""

    bucket: pulumi.Input[str]
    """Name of the GCS bucket to create; no dots, not starting with goog."""
    project: pulumi.Input[str]
    """GCP project id the bucket is created in."""
    discovery_json: pulumi.Input[str]
    """Canonical JSON text of the discovery document."""
    jwks_json: pulumi.Input[str]
    """Canonical JSON text of the JWKS (public keys only)."""
    location: pulumi.Input[str] = "US"
    """GCS location of the bucket (a region or multi-region); not part of the issuer URL."""


class GcsIssuerHost(pulumi.ComponentResource):
    """A GCS bucket publishing the two issuer documents to `allUsers`, read-only, no listing.

    Attributes:
        bucket_name: the bucket's name.
        bucket_url: the bucket's path-style URL (the issuer, unless a custom domain fronts it).
        discovery_url: URL of the discovery document, resolved once it is uploaded.
        jwks_url: URL of the JWKS, resolved once it is uploaded.
    """

    bucket_name: pulumi.Output[str]
    bucket_url: pulumi.Output[str]
    discovery_url: pulumi.Output[str]
    jwks_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: GcsIssuerHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fluxtrust:issuer:GcsIssuerHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=args.bucket,
            project=args.project,
            location=args.location,
            # IAM only, no object ACLs: the one grant below is the whole exposure.
            uniform_bucket_level_access=True,
            # "enforced" would forbid the allUsers grant and so the public read the issuer
            # needs; "inherited" follows the organisation, and fails loudly where it enforces.
            public_access_prevention="inherited",
            # The bucket holds only the two documents, retained on delete (see below).
            force_destroy=True,
            opts=child,
        )

        # New content replaces a GCS object, under the same name: the replacement's upload
        # overwrites the object, and deleting the replaced one would then remove the document
        # just published. Retained on delete, the object is never deleted by Pulumi; the bucket's
        # force_destroy clears it if the whole issuer is ever removed.
        retained = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        objects: list[pulumi.CustomResource] = []
        for suffix, key, content in (
            ("discovery", DISCOVERY_OBJECT_KEY, args.discovery_json),
            ("jwks", JWKS_OBJECT_KEY, args.jwks_json),
        ):
            objects.append(
                gcp.storage.BucketObject(
                    f"{name}-{suffix}",
                    bucket=bucket.name,
                    name=key,
                    # `content` would be kept as a secret in the state and hidden in previews;
                    # these documents are public and a reviewer should see them change.
                    source=pulumi.Output.from_input(content).apply(pulumi.StringAsset),
                    content_type=CONTENT_TYPE,
                    cache_control=CACHE_CONTROL,
                    opts=retained,
                )
            )

        # legacyObjectReader is storage.objects.get alone; objectViewer adds objects.list, which
        # would let anyone enumerate the bucket.
        gcp.storage.BucketIAMMember(
            f"{name}-public-read",
            bucket=bucket.name,
            role="roles/storage.legacyObjectReader",
            member="allUsers",
            opts=child,
        )

        self.bucket_name = bucket.name
        self.bucket_url = pulumi.Output.from_input(args.bucket).apply(gcs_bucket_url)
        self.discovery_url, self.jwks_url = _published(self.bucket_url, objects)
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketUrl": self.bucket_url,
                "discoveryUrl": self.discovery_url,
                "jwksUrl": self.jwks_url,
            }
        )
