"""Tests for fluxtrust.issuer_urls: issuer URLs known from the configuration alone."""

from __future__ import annotations

import pytest
from fluxtrust.config import (
    AwsSettings,
    ClusterConfig,
    GcpSettings,
    IssuerHost,
    IssuerLookup,
    IssuerUrl,
)
from fluxtrust.issuer_urls import (
    conventional_jwks_uri,
    gke_issuer_url,
    hosted_issuer_url,
    s3_bucket_url,
    static_issuer_url,
)

AWS = AwsSettings(region="eu-west-1")
GCP = GcpSettings(project="acme-platform", project_number="123", pool="flux-clusters")


class TestHostedIssuerUrl:
    def test_s3_is_virtual_hosted_and_regional(self) -> None:
        """An S3 issuer is the bucket's regional virtual-hosted URL."""
        host = IssuerHost("aws", bucket="acme-issuer")

        assert hosted_issuer_url(host, aws_region="eu-west-1") == (
            "https://acme-issuer.s3.eu-west-1.amazonaws.com"
        )

    def test_s3_in_china_uses_its_own_domain(self) -> None:
        """Regions in China answer under amazonaws.com.cn."""
        assert s3_bucket_url("acme-issuer", "cn-north-1") == (
            "https://acme-issuer.s3.cn-north-1.amazonaws.com.cn"
        )

    def test_azure_is_the_container_url(self) -> None:
        """An Azure issuer is the container's URL on the account's blob endpoint."""
        host = IssuerHost("azure", storage_account="acmeissuer", container="ci-kind")

        assert hosted_issuer_url(host, aws_region=None) == (
            "https://acmeissuer.blob.core.windows.net/ci-kind"
        )

    def test_gcs_is_path_style(self) -> None:
        """A GCS issuer is the bucket under storage.googleapis.com."""
        host = IssuerHost("gcp", bucket="acme-issuer")

        assert hosted_issuer_url(host, aws_region=None) == (
            "https://storage.googleapis.com/acme-issuer"
        )

    def test_custom_url_wins(self) -> None:
        """A custom domain in front of the bucket is the issuer, as given."""
        host = IssuerHost("aws", bucket="acme-issuer", url="https://oidc.acme.example/ci")

        assert hosted_issuer_url(host, aws_region="eu-west-1") == "https://oidc.acme.example/ci"

    def test_s3_without_region_is_refused(self) -> None:
        """The region is part of an S3 issuer URL, so it cannot be guessed."""
        host = IssuerHost("aws", bucket="acme-issuer")

        with pytest.raises(ValueError, match="needs a bucket and the AWS region"):
            hosted_issuer_url(host, aws_region=None)


class TestStaticIssuerUrl:
    def test_configured_url_keeps_its_trailing_slash(self) -> None:
        """A configured issuer URL is returned byte for byte."""
        cluster = ClusterConfig("prod", "aks", IssuerUrl("https://westeurope.oic.example/t/c/"))

        assert static_issuer_url(cluster, aws=AWS, gcp=GCP) == "https://westeurope.oic.example/t/c/"

    def test_gke_is_built(self) -> None:
        """A GKE issuer is known before deploy, from project, location and name."""
        cluster = ClusterConfig("prod", "gke", IssuerLookup("prod", location="europe-west1"))

        assert static_issuer_url(cluster, aws=AWS, gcp=GCP) == gke_issuer_url(
            "acme-platform", "europe-west1", "prod"
        )

    def test_eks_and_aks_look_ups_are_unknown(self) -> None:
        """EKS and AKS issuers are only known once looked up at deploy time."""
        eks = ClusterConfig("a", "eks", IssuerLookup("a", region="eu-west-1"))
        aks = ClusterConfig("b", "aks", IssuerLookup("b", resource_group="rg"))

        assert static_issuer_url(eks, aws=AWS, gcp=GCP) is None
        assert static_issuer_url(aks, aws=AWS, gcp=GCP) is None

    def test_hosted_issuer_is_the_bucket_url(self) -> None:
        """A hosted issuer is known from its bucket and the AWS region."""
        cluster = ClusterConfig("ci", "other", IssuerHost("aws", bucket="acme-issuer"))

        assert static_issuer_url(cluster, aws=AWS, gcp=GCP) == (
            "https://acme-issuer.s3.eu-west-1.amazonaws.com"
        )


class TestJwksUri:
    def test_is_the_issuer_plus_kubernetes_path(self) -> None:
        """The JWKS URI is the issuer plus /openid/v1/jwks."""
        assert conventional_jwks_uri("https://issuer.example") == (
            "https://issuer.example/openid/v1/jwks"
        )

    def test_trailing_slash_is_not_doubled(self) -> None:
        """An issuer ending with a slash does not give a double slash."""
        assert conventional_jwks_uri("https://issuer.example/ci/") == (
            "https://issuer.example/ci/openid/v1/jwks"
        )
