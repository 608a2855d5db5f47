"""Issuer URLs that are known from the configuration alone.

Pure functions, no resources: the discovery document published in a bucket contains its own
issuer URL, so that URL must be a plain string before any resource is declared. The same
functions give the URLs the trust side names, so a hosted issuer is spelled identically
everywhere (a trailing slash would make a different issuer).
"""

from __future__ import annotations

from .config import (
    AwsSettings,
    ClusterConfig,
    GcpSettings,
    IssuerHost,
    IssuerLookup,
    IssuerUrl,
    azure_container_url,
    gcs_bucket_url,
    s3_bucket_url,
)
from .jwks import jwks_uri_for

__all__ = [
    "DISCOVERY_OBJECT_KEY",
    "JWKS_OBJECT_KEY",
    "azure_container_url",
    "conventional_jwks_uri",
    "gcs_bucket_url",
    "gke_issuer_url",
    "hosted_issuer_url",
    "s3_bucket_url",
    "static_issuer_url",
]

# The object keys are the paths a verifier appends to the issuer (Kubernetes' own paths), so a
# bucket whose root is the issuer serves both documents without any rewriting.
DISCOVERY_OBJECT_KEY = ".well-known/openid-configuration"
JWKS_OBJECT_KEY = "openid/v1/jwks"


def gke_issuer_url(project: str, location: str, name: str) -> str:
    """The issuer of a GKE cluster, which GKE derives from the cluster's project, location, name."""
    return (
        f"https://container.googleapis.com/v1/projects/{project}/locations/{location}"
        f"/clusters/{name}"
    )


def hosted_issuer_url(host: IssuerHost, *, aws_region: str | None) -> str:
    """The issuer URL of discovery documents published by fluxtrust in a bucket.

    `host.url` (a custom domain or CDN in front of the bucket) wins when given; otherwise the
    bucket's own URL. Never ends with a slash, so the JWKS URI is the issuer plus
    `/openid/v1/jwks`.

    Raises:
        ValueError: an S3 host without a region, or a host missing its bucket or container.
    """
    if host.url is not None:
        return host.url
    if host.cloud == "aws":
        if host.bucket is None or aws_region is None:
            msg = "an S3-hosted issuer needs a bucket and the AWS region"
            raise ValueError(msg)
        return s3_bucket_url(host.bucket, aws_region)
    if host.cloud == "azure":
        if host.storage_account is None or host.container is None:
            msg = "an Azure-hosted issuer needs a storage account and a container"
            raise ValueError(msg)
        return azure_container_url(host.storage_account, host.container)
    if host.bucket is None:
        msg = "a GCS-hosted issuer needs a bucket"
        raise ValueError(msg)
    return gcs_bucket_url(host.bucket)


def conventional_jwks_uri(issuer: str) -> str:
    """`<issuer>/openid/v1/jwks`, joined without a double slash when the issuer ends with one."""
    return jwks_uri_for(issuer.removesuffix("/"))


def static_issuer_url(
    cluster: ClusterConfig, *, aws: AwsSettings | None, gcp: GcpSettings | None
) -> str | None:
    """The cluster's issuer when the configuration alone fixes it, else None.

    Known: a configured URL, a hosted issuer, a GKE cluster (its issuer is built from project,
    location and name). Unknown until deploy: EKS and AKS look-ups.
    """
    issuer = cluster.issuer
    if isinstance(issuer, IssuerUrl):
        return issuer.url
    if isinstance(issuer, IssuerHost):
        try:
            return hosted_issuer_url(issuer, aws_region=aws.region if aws else None)
        except ValueError:
            return None
    if isinstance(issuer, IssuerLookup) and cluster.type == "gke":
        project = issuer.project or (gcp.project if gcp else None)
        if project is None or issuer.location is None:
            return None
        return gke_issuer_url(project, issuer.location, issuer.name)
    return None
