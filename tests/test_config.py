"""Tests for the stack configuration: parsing into typed objects, and every validation rule."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from fluxtrust.config import (
    IssuerHost,
    IssuerLookup,
    IssuerUrl,
    JwksGenerate,
    JwksPublicKeys,
    ServiceAccountRef,
    load_stack_file,
    parse_stack_config,
)
from fluxtrust.errors import ConfigError

SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
REGISTRY_SCOPE = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r"
)


def valid() -> dict[str, Any]:
    """A small configuration that is valid, for tests to break one key at a time."""
    return {
        "aws": {"region": "eu-west-1", "accountId": "123456789012"},
        "azure": {
            "tenantId": "11111111-2222-3333-4444-555555555555",
            "subscriptionId": SUB,
            "resourceGroup": "rg-flux",
            "location": "westeurope",
        },
        "gcp": {"project": "acme-flux", "projectNumber": "123456789012", "pool": "flux-clusters"},
        "clusters": [
            {
                "name": "ci-kind",
                "type": "other",
                "issuer": {"host": {"cloud": "aws", "bucket": "acme-ci-kind"}},
                "jwks": {"publicKeys": ["keys/ci.pub"]},
            },
            {
                "name": "prod-eks",
                "type": "eks",
                "issuer": {"url": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"},
            },
        ],
        "identities": [
            {
                "name": "source-oci",
                "level": "controller",
                "clusters": ["ci-kind", "prod-eks"],
                "serviceAccount": "flux-system/source-controller",
                "aws": {"policyArns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]},
                "azure": {"roles": [{"role": "AcrPull", "scope": REGISTRY_SCOPE}]},
                "gcp": {"roles": [{"role": "roles/artifactregistry.reader"}]},
            }
        ],
    }


def problems_of(raw: dict[str, Any]) -> str:
    """The message of the ConfigError that `raw` raises."""
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    return str(caught.value)


class TestValidConfiguration:
    def test_parses_into_typed_objects(self) -> None:
        """A valid configuration becomes typed, frozen objects with defaults filled in."""
        config = parse_stack_config(valid())

        assert config.aws is not None
        assert config.aws.account_id == "123456789012"
        assert config.clusters[0].issuer == IssuerHost("aws", bucket="acme-ci-kind")
        assert config.clusters[0].jwks == JwksPublicKeys(("keys/ci.pub",))
        assert config.clusters[0].gcp_jwks == "upload"
        assert config.clusters[1].gcp_jwks == "discover"
        assert config.clusters[1].issuer == IssuerUrl(
            "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
        )
        ident = config.identities[0]
        assert ident.service_account == ServiceAccountRef("flux-system", "source-controller")
        assert (
            ident.service_account.subject == "system:serviceaccount:flux-system:source-controller"
        )
        assert ident.clouds == ("aws", "azure", "gcp")
        assert ident.gcp is not None
        assert ident.gcp.access == "direct"

    def test_trailing_slash_of_an_issuer_is_kept(self) -> None:
        """AKS issuers end with '/', and the byte-exact issuer is what clouds compare."""
        raw = valid()
        raw["clusters"][1]["issuer"]["url"] = "https://westeurope.oic.prod-aks.azure.com/t/c/"

        config = parse_stack_config(raw)

        assert config.clusters[1].issuer == IssuerUrl(
            "https://westeurope.oic.prod-aks.azure.com/t/c/"
        )

    def test_lookup_and_generate(self) -> None:
        """Managed clusters may be looked up; a kind cluster may have its key generated."""
        raw = valid()
        raw["clusters"][1] = {
            "name": "prod-gke",
            "type": "gke",
            "issuer": {"lookup": {"name": "c1", "location": "europe-west1"}},
        }
        raw["clusters"][0]["jwks"] = {"generate": {"algorithm": "ES256"}}
        raw["identities"][0]["clusters"] = ["ci-kind", "prod-gke"]

        config = parse_stack_config(raw)

        assert config.clusters[1].issuer == IssuerLookup("c1", location="europe-west1")
        assert config.clusters[0].jwks == JwksGenerate("ES256")

    def test_identities_are_optional(self) -> None:
        """A stack may declare clusters (and their issuers) before any identity."""
        raw = valid()
        del raw["identities"]

        assert parse_stack_config(raw).identities == ()


class TestTopLevel:
    def test_unknown_top_level_key_is_reported(self) -> None:
        """A misspelt key is an error, not silently ignored."""
        raw = valid()
        raw["identites"] = []

        assert "fluxtrust:identites: unknown key" in problems_of(raw)

    def test_clusters_are_required(self) -> None:
        """A stack without clusters declares nothing and says so."""
        raw = valid()
        del raw["clusters"]

        assert re.search(r"fluxtrust:clusters: is required", problems_of(raw))

    def test_account_id_must_be_twelve_digits(self) -> None:
        """An AWS account id is 12 digits."""
        raw = valid()
        raw["aws"]["accountId"] = "12345"

        assert "fluxtrust:aws.accountId: is '12345'; must be 12 digits" in problems_of(raw)

    def test_unquoted_account_id_is_refused_with_the_reason(self) -> None:
        """YAML turns an unquoted account id into a number and drops leading zeros."""
        raw = valid()
        raw["aws"]["accountId"] = 12345678901

        assert "fluxtrust:aws.accountId: must be a quoted string" in problems_of(raw)

    def test_unknown_key_inside_a_block(self) -> None:
        """Unknown keys are reported with their full path and the allowed keys."""
        raw = valid()
        raw["aws"]["regoin"] = "x"

        assert "fluxtrust:aws.regoin: unknown key; allowed keys: region, accountId" in problems_of(
            raw
        )

    @pytest.mark.parametrize(
        ("pool", "reason"),
        [
            ("abc", "4 to 32"),
            ("gcp-pool", "gcp-"),
            ("Flux_Pool", "lowercase letters, digits"),
            ("a" * 33, "4 to 32"),
        ],
    )
    def test_gcp_pool_id_rules(self, pool: str, reason: str) -> None:
        """Pool ids are 4 to 32 characters of [a-z0-9-], and gcp- is reserved."""
        raw = valid()
        raw["gcp"]["pool"] = pool

        message = problems_of(raw)

        assert "fluxtrust:gcp.pool" in message
        assert reason in message

    def test_azure_ids_must_be_guids(self) -> None:
        """Tenant and subscription ids are GUIDs."""
        raw = valid()
        raw["azure"]["tenantId"] = "contoso.onmicrosoft.com"

        assert (
            "fluxtrust:azure.tenantId: is 'contoso.onmicrosoft.com'; must be a GUID"
            in problems_of(raw)
        )

    def test_all_problems_are_reported_together(self) -> None:
        """One run lists every problem, so a user fixes them in one edit."""
        raw = valid()
        raw["aws"]["accountId"] = "1"
        raw["clusters"][0]["type"] = "minikube"
        raw["identities"][0]["level"] = "cluster"

        message = problems_of(raw)

        assert "3 problems" in message
        assert "fluxtrust:aws.accountId" in message
        assert "fluxtrust:clusters[0].type: is 'minikube'; allowed: aks, eks, gke, other" in message
        assert "fluxtrust:identities[0].level: is 'cluster'; allowed: controller, object" in message


class TestClusters:
    def test_cluster_name_rule(self) -> None:
        """Cluster names are short lowercase DNS-like names."""
        raw = valid()
        raw["clusters"][0]["name"] = "CI_Kind"

        assert re.search(
            r"fluxtrust:clusters\[0\]\.name: is 'CI_Kind'; must be 1 to 30", problems_of(raw)
        )

    def test_cluster_names_are_unique(self) -> None:
        """Two clusters cannot share a name."""
        raw = valid()
        raw["clusters"][1]["name"] = "ci-kind"

        assert "fluxtrust:clusters[1].name: repeats 'ci-kind'" in problems_of(raw)

    def test_issuer_needs_exactly_one_source(self) -> None:
        """issuer has exactly one of url, lookup, host."""
        raw = valid()
        raw["clusters"][1]["issuer"]["lookup"] = {"name": "prod"}

        assert (
            "fluxtrust:clusters[1].issuer: must have exactly one of url, lookup, host; found 2"
            in problems_of(raw)
        )

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://oidc.example.com", "must start with https://"),
            ("https://", "must name a host"),
            ("https://oidc.example.com/id?x=1", "must not have a query"),
            ("https://oidc.example.com/id#frag", "must not have a fragment"),
            ("https://oidc.example.com/ id", "whitespace"),
        ],
    )
    def test_issuer_url_rules(self, url: str, reason: str) -> None:
        """An issuer is an https URL with a host, and no query or fragment."""
        raw = valid()
        raw["clusters"][1]["issuer"]["url"] = url

        message = problems_of(raw)

        assert "fluxtrust:clusters[1].issuer.url" in message
        assert reason in message

    def test_host_is_only_for_other_clusters(self) -> None:
        """A managed cluster's issuer is set by its cloud and cannot be moved to a bucket."""
        raw = valid()
        raw["clusters"][1]["issuer"] = {"host": {"cloud": "aws", "bucket": "b-eks"}}

        assert (
            "fluxtrust:clusters[1].issuer.host: a eks cluster's issuer is set by its cloud"
            in problems_of(raw)
        )

    def test_lookup_is_not_for_other_clusters(self) -> None:
        """A kind cluster cannot be looked up in a cloud."""
        raw = valid()
        raw["clusters"][0]["issuer"] = {"lookup": {"name": "kind"}}

        assert "fluxtrust:clusters[0].issuer.lookup: is for managed clusters" in problems_of(raw)

    def test_bucket_with_dots_is_refused(self) -> None:
        """Dotted bucket names break the virtual-host TLS certificate."""
        raw = valid()
        raw["clusters"][0]["issuer"]["host"]["bucket"] = "issuer.acme.com"

        message = problems_of(raw)

        assert "fluxtrust:clusters[0].issuer.host.bucket: is 'issuer.acme.com'" in message
        assert "no dots" in message

    def test_azure_host_needs_account_and_container(self) -> None:
        """An Azure host names a storage account and a container, not a bucket."""
        raw = valid()
        raw["clusters"][0]["issuer"]["host"] = {"cloud": "azure", "bucket": "x"}

        message = problems_of(raw)

        assert "fluxtrust:clusters[0].issuer.host.bucket: is for clouds aws and gcp" in message
        assert (
            "fluxtrust:clusters[0].issuer.host.storageAccount: is required for cloud azure"
            in message
        )

    def test_hosted_issuer_needs_its_cloud_settings(self) -> None:
        """Hosting in GCS needs fluxtrust:gcp."""
        raw = valid()
        raw["clusters"][0]["issuer"]["host"] = {"cloud": "gcp", "bucket": "acme-ci-kind"}
        del raw["gcp"]
        del raw["identities"][0]["gcp"]

        assert (
            "fluxtrust:clusters[0].issuer.host.cloud: is gcp, which needs fluxtrust:gcp to be set"
            in problems_of(raw)
        )

    def test_hosted_issuer_needs_keys(self) -> None:
        """A bucket can only publish keys that fluxtrust knows."""
        raw = valid()
        del raw["clusters"][0]["jwks"]

        assert "fluxtrust:clusters[0].jwks: is required when the issuer is hosted" in problems_of(
            raw
        )

    def test_jwks_needs_exactly_one_source(self) -> None:
        """jwks has exactly one of publicKeys, file, fromCluster, generate."""
        raw = valid()
        raw["clusters"][0]["jwks"]["file"] = "keys/ci.jwks.json"

        assert (
            "fluxtrust:clusters[0].jwks: must have exactly one of "
            "publicKeys, file, fromCluster, generate; found 2" in problems_of(raw)
        )

    def test_generate_is_only_for_other_clusters(self) -> None:
        """A managed cluster signs with its cloud's key."""
        raw = valid()
        raw["clusters"][1]["jwks"] = {"generate": True}

        assert (
            "fluxtrust:clusters[1].jwks.generate: a eks cluster signs with its cloud's key"
            in problems_of(raw)
        )

    def test_previous_issuer_cannot_be_the_current_one(self) -> None:
        """previousIssuers lists only issuers being retired."""
        raw = valid()
        raw["clusters"][1]["previousIssuers"] = ["https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"]

        assert (
            "fluxtrust:clusters[1].previousIssuers[0]: is the cluster's current issuer"
            in problems_of(raw)
        )

    def test_two_clusters_cannot_share_an_issuer(self) -> None:
        """A shared issuer would let one cluster's workloads pass as the other's."""
        raw = valid()
        raw["clusters"][0]["previousIssuers"] = ["https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"]

        assert "is also an issuer of cluster" in problems_of(raw)

    def test_provider_arn_must_match_the_issuer(self) -> None:
        """A reused AWS OIDC provider must be the one for the cluster's issuer."""
        raw = valid()
        raw["clusters"][1]["awsOidcProviderArn"] = (
            "arn:aws:iam::123456789012:oidc-provider/other.example.com"
        )

        assert (
            "fluxtrust:clusters[1].awsOidcProviderArn: names a provider for another issuer"
            in problems_of(raw)
        )

    def test_provider_arn_must_be_in_the_account(self) -> None:
        """A reused provider lives in the trusting account."""
        raw = valid()
        raw["clusters"][1]["awsOidcProviderArn"] = (
            "arn:aws:iam::999999999999:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
        )

        assert (
            "is in account 999999999999, not in fluxtrust:aws.accountId 123456789012"
            in problems_of(raw)
        )

    def test_provider_arns_for_current_and_previous_issuer(self) -> None:
        """A rebuilt EKS cluster reuses its new provider and keeps its old one, both by ARN."""
        raw = valid()
        old, new = (
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "oidc.eks.eu-west-1.amazonaws.com/id/NEW",
        )
        raw["clusters"][1]["issuer"]["url"] = f"https://{new}"
        raw["clusters"][1]["previousIssuers"] = [f"https://{old}"]
        raw["clusters"][1]["awsOidcProviderArn"] = [
            f"arn:aws:iam::123456789012:oidc-provider/{new}",
            f"arn:aws:iam::123456789012:oidc-provider/{old}",
        ]

        config = parse_stack_config(raw)

        assert config.clusters[1].aws_oidc_provider_arns == (
            f"arn:aws:iam::123456789012:oidc-provider/{new}",
            f"arn:aws:iam::123456789012:oidc-provider/{old}",
        )

    def test_provider_arn_list_items_are_checked(self) -> None:
        """Each ARN of a list is checked, and named by its index."""
        raw = valid()
        raw["clusters"][1]["awsOidcProviderArn"] = [
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "arn:aws:iam::123456789012:role/nope",
        ]

        assert (
            "fluxtrust:clusters[1].awsOidcProviderArn[1]: is 'arn:aws:iam::123456789012:role/nope'"
            in problems_of(raw)
        )

    def test_gcp_upload_needs_keys(self) -> None:
        """Uploading the JWKS to GCP needs the keys."""
        raw = valid()
        raw["clusters"][1]["gcpJwks"] = "upload"

        assert (
            "fluxtrust:clusters[1].gcpJwks: is upload, which needs the cluster's keys"
            in problems_of(raw)
        )


class TestIdentities:
    def test_identity_must_name_existing_clusters(self) -> None:
        """clusters lists names declared under fluxtrust:clusters."""
        raw = valid()
        raw["identities"][0]["clusters"] = ["ci-kind", "prod-gke"]

        assert (
            "fluxtrust:identities[0].clusters[1]: names no cluster: 'prod-gke'; "
            "clusters: ci-kind, prod-eks" in problems_of(raw)
        )

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("source-controller", "must be namespace/name"),
            ("a/b/c", "must be namespace/name"),
            ("Flux-System/source-controller", "must be a DNS label"),
            ("apps/Tenant_A", "must be a DNS subdomain"),
        ],
    )
    def test_service_account_rules(self, value: str, reason: str) -> None:
        """serviceAccount is namespace/name with Kubernetes naming rules."""
        raw = valid()
        raw["identities"][0]["level"] = "object"
        raw["identities"][0]["serviceAccount"] = value

        message = problems_of(raw)

        assert "fluxtrust:identities[0].serviceAccount" in message
        assert reason in message

    def test_controller_level_is_a_flux_controller(self) -> None:
        """A controller-level identity is one of Flux's own controllers."""
        raw = valid()
        raw["identities"][0]["serviceAccount"] = "apps/tenant"

        assert (
            "a controller-level identity is a Flux controller's own ServiceAccount"
            in problems_of(raw)
        )

    def test_identity_must_reach_a_cloud(self) -> None:
        """An identity without any cloud block does nothing."""
        raw = valid()
        for cloud in ("aws", "azure", "gcp"):
            del raw["identities"][0][cloud]

        assert "fluxtrust:identities[0]: reaches no cloud" in problems_of(raw)

    def test_cloud_block_needs_top_level_settings(self) -> None:
        """An azure block needs fluxtrust:azure."""
        raw = valid()
        del raw["azure"]

        assert "fluxtrust:identities[0].azure: needs fluxtrust:azure to be set" in problems_of(raw)

    def test_aws_block_must_grant_something(self) -> None:
        """An aws block without a policy grants nothing."""
        raw = valid()
        raw["identities"][0]["aws"] = {"policyArns": []}

        assert "fluxtrust:identities[0].aws: grants nothing" in problems_of(raw)

    def test_aws_policy_arn_rule(self) -> None:
        """Managed policy ARNs are arn:aws:iam::(aws|account):policy/..."""
        raw = valid()
        raw["identities"][0]["aws"]["policyArns"] = ["AmazonS3ReadOnlyAccess"]

        assert (
            "fluxtrust:identities[0].aws.policyArns[0]: is 'AmazonS3ReadOnlyAccess'"
            in problems_of(raw)
        )

    def test_gcp_role_rule(self) -> None:
        """A GCP role starts with roles/ or projects/<p>/roles/."""
        raw = valid()
        raw["identities"][0]["gcp"]["roles"] = [{"role": "artifactregistry.reader"}]

        assert (
            "fluxtrust:identities[0].gcp.roles[0].role: is 'artifactregistry.reader'"
            in problems_of(raw)
        )

    def test_gcp_block_needs_roles(self) -> None:
        """A gcp block must grant at least one role."""
        raw = valid()
        raw["identities"][0]["gcp"] = {"access": "direct"}

        assert "fluxtrust:identities[0].gcp.roles: is required" in problems_of(raw)

    def test_gcp_access_mode(self) -> None:
        """access is direct or impersonation."""
        raw = valid()
        raw["identities"][0]["gcp"]["access"] = "federated"

        assert (
            "fluxtrust:identities[0].gcp.access: is 'federated'; allowed: direct, impersonation"
            in problems_of(raw)
        )

    def test_azure_role_must_be_known(self) -> None:
        """An Azure role is a known built-in name, a GUID or a role definition id."""
        raw = valid()
        raw["identities"][0]["azure"]["roles"][0]["role"] = "Acr Pull"

        message = problems_of(raw)

        assert "fluxtrust:identities[0].azure.roles[0].role: is 'Acr Pull'" in message
        assert "AcrPull" in message

    def test_azure_scope_must_exist(self) -> None:
        """A scope starts at a subscription or a management group."""
        raw = valid()
        raw["identities"][0]["azure"]["roles"][0]["scope"] = "/resourceGroups/rg"

        assert (
            "fluxtrust:identities[0].azure.roles[0].scope: is '/resourceGroups/rg'"
            in problems_of(raw)
        )

    def test_identity_names_are_unique(self) -> None:
        """Two identities cannot share a name."""
        raw = valid()
        second = copy.deepcopy(raw["identities"][0])
        second["serviceAccount"] = "flux-system/kustomize-controller"
        raw["identities"].append(second)

        assert "fluxtrust:identities[1].name: repeats 'source-oci'" in problems_of(raw)

    def test_one_service_account_one_identity_per_cloud(self) -> None:
        """A ServiceAccount carries one role ARN: two identities cannot both claim it for AWS."""
        raw = valid()
        second = copy.deepcopy(raw["identities"][0])
        second["name"] = "second"
        del second["azure"], second["gcp"]
        raw["identities"].append(second)

        message = problems_of(raw)

        assert "fluxtrust:identities[1].serviceAccount" in message
        assert "already given aws access by identity 'source-oci'" in message

    def test_gcp_service_account_shared_across_clusters_is_refused(self) -> None:
        """In a pool the principal ignores the cluster, so two gcp identities cannot share it."""
        raw = valid()
        raw["identities"][0]["clusters"] = ["ci-kind"]
        second = copy.deepcopy(raw["identities"][0])
        second["name"] = "second"
        second["clusters"] = ["prod-eks"]
        del second["aws"], second["azure"]
        raw["identities"].append(second)

        assert "already reaches gcp as identity 'source-oci'" in problems_of(raw)

    def test_azure_credential_limit(self) -> None:
        """Azure allows 20 federated credentials per managed identity."""
        raw = valid()
        raw["clusters"][1]["previousIssuers"] = [f"https://old{i}.example.com" for i in range(19)]

        assert (
            "needs 21 federated credentials on one managed identity; Azure allows 20"
            in problems_of(raw)
        )


class TestStackFile:
    def test_reads_fluxtrust_keys_only(self, tmp_path: Path) -> None:
        """Other namespaces (provider settings) are left to Pulumi."""
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text("config:\n  aws:region: eu-west-1\n  fluxtrust:clusters: []\n")

        assert load_stack_file(path) == {"clusters": []}

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing stack file is named in the error."""
        with pytest.raises(ConfigError, match=r"Pulumi\.nope\.yaml: cannot be read"):
            load_stack_file(tmp_path / "Pulumi.nope.yaml")

    def test_not_yaml(self, tmp_path: Path) -> None:
        """A broken stack file is named in the error."""
        path = tmp_path / "Pulumi.bad.yaml"
        path.write_text("config: [unclosed\n")

        with pytest.raises(ConfigError, match="is not valid YAML"):
            load_stack_file(path)

    def test_encrypted_value_is_refused(self, tmp_path: Path) -> None:
        """fluxtrust's settings are not secrets, and an encrypted one cannot be read offline."""
        path = tmp_path / "Pulumi.sec.yaml"
        path.write_text("config:\n  fluxtrust:aws:\n    secure: AAABAF==\n")

        with pytest.raises(ConfigError, match="fluxtrust:aws: is an encrypted secret"):
            load_stack_file(path)
