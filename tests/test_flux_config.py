"""Tests for the Flux-side builders: annotations, controller patches, kustomization text."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from fluxtrust.flux_config import (
    CLOUDS,
    CLUSTER_TYPES,
    FLUX_CONTROLLERS,
    ControllerTarget,
    aws_annotations,
    azure_annotations,
    controller_env_patch,
    controller_gcp_configmaps,
    controller_level_setup,
    gcp_annotations,
    gcp_credential_config,
    gcp_credential_configmap,
    merge_annotations,
    object_level_feature_gate_patch,
    render_kustomization,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/flux-source"
CLIENT_ID = "11111111-1111-1111-1111-111111111111"
TENANT_ID = "22222222-2222-2222-2222-222222222222"
PROVIDER = (
    "projects/123456789/locations/global/workloadIdentityPools/flux-clusters/"
    "providers/ci-kind-b3192b99"
)
AUDIENCE = f"//iam.googleapis.com/{PROVIDER}"
GSA = "flux-source@my-project.iam.gserviceaccount.com"

AWS = ControllerTarget.aws("source-controller", role_arn=ROLE_ARN, region="eu-west-1")
AZURE = ControllerTarget.azure("source-controller", client_id=CLIENT_ID, tenant_id=TENANT_ID)
GCP = ControllerTarget.gcp("source-controller", audience=AUDIENCE)
TARGETS = {"aws": AWS, "azure": AZURE, "gcp": GCP}

AWS_ENV = [
    {"name": "AWS_REGION", "value": "eu-west-1"},
    {"name": "AWS_ROLE_ARN", "value": ROLE_ARN},
    {
        "name": "AWS_ROLE_SESSION_NAME",
        "value": "source-controller.flux-system.eu-west-1.fluxcd.io",
    },
    {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/service-account/aws-token"},
]
AZURE_ENV = [
    {"name": "AZURE_TENANT_ID", "value": TENANT_ID},
    {"name": "AZURE_CLIENT_ID", "value": CLIENT_ID},
    {"name": "AZURE_AUTHORITY_HOST", "value": "https://login.microsoftonline.com/"},
    {"name": "AZURE_FEDERATED_TOKEN_FILE", "value": "/var/run/service-account/azure-token"},
]
GCP_ENV = [
    {
        "name": "GOOGLE_APPLICATION_CREDENTIALS",
        "value": "/var/run/service-account/gcp-credentials.json",
    }
]
MOUNT = {"name": "cloud-service-account", "mountPath": "/var/run/service-account", "readOnly": True}
GCP_CONFIGMAP_SOURCE = {
    "configMap": {
        "name": "source-controller-gcp-credentials",
        "items": [{"key": "credentials.json", "path": "gcp-credentials.json"}],
    }
}


def _token(audience: str, path: str) -> dict[str, Any]:
    """Return the projected token source expected for one cloud."""
    return {"serviceAccountToken": {"audience": audience, "expirationSeconds": 3600, "path": path}}


def _patch_document(patch: dict[str, Any]) -> Any:
    """Return the parsed YAML of one kustomization patch entry."""
    return yaml.safe_load(patch["patch"])


def _deployment(name: str, template: dict[str, Any]) -> dict[str, Any]:
    """Return the strategic-merge patch expected for one Deployment."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": template},
    }


def _projected(env: list[dict[str, str]], sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the pod spec part expected for projected tokens."""
    return {
        "containers": [{"name": "manager", "env": env, "volumeMounts": [MOUNT]}],
        "volumes": [{"name": "cloud-service-account", "projected": {"sources": sources}}],
    }


class TestAnnotations:
    def test_aws(self) -> None:
        """AWS takes the EKS role annotation."""
        assert aws_annotations(ROLE_ARN) == {"eks.amazonaws.com/role-arn": ROLE_ARN}

    def test_azure_needs_both_ids(self) -> None:
        """Azure takes client id and tenant id together."""
        annotations = azure_annotations(CLIENT_ID, TENANT_ID)

        assert annotations == {
            "azure.workload.identity/client-id": CLIENT_ID,
            "azure.workload.identity/tenant-id": TENANT_ID,
        }

    def test_gcp_impersonation_outside_gke(self) -> None:
        """Impersonation names the GSA; clusters other than GKE also name the provider."""
        annotations = gcp_annotations(
            service_account_email=GSA, workload_identity_provider=PROVIDER
        )

        assert annotations == {
            "iam.gke.io/gcp-service-account": GSA,
            "gcp.auth.fluxcd.io/workload-identity-provider": PROVIDER,
        }

    def test_gcp_direct_access_on_gke_needs_nothing(self) -> None:
        """Direct access from GKE needs no annotation at all."""
        annotations = gcp_annotations(service_account_email=None, workload_identity_provider=None)

        assert annotations == {}

    def test_gcp_provider_is_the_resource_name(self) -> None:
        """The provider annotation takes projects/..., not the //iam.googleapis.com audience."""
        with pytest.raises(ValueError, match=r"without //iam\.googleapis\.com/"):
            gcp_annotations(service_account_email=None, workload_identity_provider=AUDIENCE)

    def test_merge_keeps_every_key(self) -> None:
        """Annotations of several clouds merge into one set; repeating a value is fine."""
        merged = merge_annotations(
            aws_annotations(ROLE_ARN), azure_annotations(CLIENT_ID, TENANT_ID)
        )

        assert merged == {**aws_annotations(ROLE_ARN), **azure_annotations(CLIENT_ID, TENANT_ID)}
        assert merge_annotations(merged, aws_annotations(ROLE_ARN)) == merged

    def test_merge_refuses_a_conflict(self) -> None:
        """One key with two values is refused, naming the key."""
        other = aws_annotations("arn:aws:iam::123456789012:role/other")

        with pytest.raises(ValueError, match=r"'eks.amazonaws.com/role-arn' given twice"):
            merge_annotations(aws_annotations(ROLE_ARN), other)


class TestControllerLevelSetup:
    @pytest.mark.parametrize("cluster_type", CLUSTER_TYPES)
    @pytest.mark.parametrize("cloud", CLOUDS)
    def test_every_pair(self, cluster_type: str, cloud: str) -> None:
        """Only a cloud's own managed service spares the projected token."""
        expected = {
            ("eks", "aws"): "none",
            ("aks", "azure"): "pod-label",
            ("gke", "gcp"): "none",
        }.get((cluster_type, cloud), "projected-token")

        assert controller_level_setup(cluster_type, cloud) == expected

    def test_refuses_an_unknown_cluster_type(self) -> None:
        """Cluster types are aks, eks, gke and other."""
        with pytest.raises(ValueError, match="unknown cluster type 'kind'"):
            controller_level_setup("kind", "aws")


class TestControllerTarget:
    def test_refuses_a_missing_value(self) -> None:
        """An AWS target needs its region."""
        with pytest.raises(ValueError, match="region is required for aws"):
            ControllerTarget("source-controller", "aws", role_arn=ROLE_ARN)

    def test_refuses_another_clouds_value(self) -> None:
        """A value of another cloud is a mistake, not something to ignore."""
        with pytest.raises(ValueError, match="client_id belongs to azure, not aws"):
            ControllerTarget(
                "source-controller", "aws", role_arn=ROLE_ARN, region="eu-west-1", client_id="x"
            )

    def test_refuses_an_unknown_controller(self) -> None:
        """Only Flux's own controllers can be patched."""
        with pytest.raises(ValueError, match="unknown Flux controller 'flux-controller'"):
            ControllerTarget.aws("flux-controller", role_arn=ROLE_ARN, region="eu-west-1")

    def test_refuses_a_gcp_audience_without_scheme_prefix(self) -> None:
        """The GCP audience is the //iam.googleapis.com form of the provider."""
        with pytest.raises(ValueError, match=r"must be //iam\.googleapis\.com/projects"):
            ControllerTarget.gcp("source-controller", audience=PROVIDER)


class TestControllerEnvPatch:
    @pytest.mark.parametrize(("cluster_type", "cloud"), [("eks", "aws"), ("gke", "gcp")])
    def test_nothing_on_the_clouds_own_service(self, cluster_type: str, cloud: str) -> None:
        """EKS to AWS and GKE to GCP need no patch: the platform provides the token."""
        patches = controller_env_patch(cluster_type, [TARGETS[cloud]])

        assert patches == []

    def test_aks_to_azure_only_labels_the_pods(self) -> None:
        """AKS to Azure only needs the workload identity label on the pod template."""
        patches = controller_env_patch("aks", [AZURE])

        assert [p["target"] for p in patches] == [
            {"kind": "Deployment", "name": "source-controller"}
        ]
        assert _patch_document(patches[0]) == _deployment(
            "source-controller", {"metadata": {"labels": {"azure.workload.identity/use": "true"}}}
        )

    def test_other_to_aws(self) -> None:
        """A kind cluster reaching AWS gets the AWS token and the web identity environment."""
        patches = controller_env_patch("other", [AWS])

        assert patches[0]["target"] == {"kind": "Deployment", "name": "source-controller"}
        assert _patch_document(patches[0]) == _deployment(
            "source-controller",
            {"spec": _projected(AWS_ENV, [_token("sts.amazonaws.com", "aws-token")])},
        )

    def test_other_to_azure(self) -> None:
        """A kind cluster reaching Azure gets the Azure token and the Azure SDK environment."""
        patches = controller_env_patch("other", [AZURE])

        assert _patch_document(patches[0]) == _deployment(
            "source-controller",
            {"spec": _projected(AZURE_ENV, [_token("api://AzureADTokenExchange", "azure-token")])},
        )

    def test_other_to_gcp(self) -> None:
        """A kind cluster reaching GCP gets the GCP token and the credential file beside it."""
        patches = controller_env_patch("other", [GCP])

        assert _patch_document(patches[0]) == _deployment(
            "source-controller",
            {"spec": _projected(GCP_ENV, [_token(AUDIENCE, "gcp-token"), GCP_CONFIGMAP_SOURCE])},
        )

    @pytest.mark.parametrize(
        ("cluster_type", "cloud"),
        [
            (cluster_type, cloud)
            for cluster_type in CLUSTER_TYPES
            for cloud in CLOUDS
            if controller_level_setup(cluster_type, cloud) == "projected-token"
        ],
    )
    def test_every_foreign_pair_projects_a_token(self, cluster_type: str, cloud: str) -> None:
        """Every pair but the cloud's own service mounts a token with that cloud's audience."""
        audiences = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange"}

        [patch] = controller_env_patch(cluster_type, [TARGETS[cloud]])

        spec = _patch_document(patch)["spec"]["template"]["spec"]
        [token] = [
            s for s in spec["volumes"][0]["projected"]["sources"] if "serviceAccountToken" in s
        ]
        assert token == _token(audiences.get(cloud, AUDIENCE), f"{cloud}-token")
        assert spec["containers"][0]["volumeMounts"] == [MOUNT]

    def test_three_clouds_share_one_patch_and_volume(self) -> None:
        """One controller reaching all three clouds gets one patch with one projected volume."""
        patches = controller_env_patch("other", [GCP, AZURE, AWS])

        assert len(patches) == 1
        assert _patch_document(patches[0]) == _deployment(
            "source-controller",
            {
                "spec": _projected(
                    AWS_ENV + AZURE_ENV + GCP_ENV,
                    [
                        _token("sts.amazonaws.com", "aws-token"),
                        _token("api://AzureADTokenExchange", "azure-token"),
                        _token(AUDIENCE, "gcp-token"),
                        GCP_CONFIGMAP_SOURCE,
                    ],
                )
            },
        )

    def test_aks_to_azure_and_aws(self) -> None:
        """On AKS, Azure adds the pod label while AWS still needs its projected token."""
        patches = controller_env_patch("aks", [AZURE, AWS])

        assert _patch_document(patches[0]) == _deployment(
            "source-controller",
            {
                "metadata": {"labels": {"azure.workload.identity/use": "true"}},
                "spec": _projected(AWS_ENV, [_token("sts.amazonaws.com", "aws-token")]),
            },
        )

    def test_eks_to_aws_and_gcp(self) -> None:
        """On EKS only the GCP part is patched; the EKS webhook handles AWS."""
        patches = controller_env_patch("eks", [AWS, GCP])

        assert _patch_document(patches[0]) == _deployment(
            "source-controller",
            {"spec": _projected(GCP_ENV, [_token(AUDIENCE, "gcp-token"), GCP_CONFIGMAP_SOURCE])},
        )

    def test_controllers_in_flux_order(self) -> None:
        """Patches follow Flux's controller order, whatever the input order."""
        image = ControllerTarget.aws(
            "image-reflector-controller", role_arn=ROLE_ARN, region="eu-west-1"
        )

        patches = controller_env_patch("other", [image, AWS])

        assert [p["target"]["name"] for p in patches] == [
            "source-controller",
            "image-reflector-controller",
        ]

    def test_session_name_follows_the_namespace(self) -> None:
        """The AWS session name is <controller>.<namespace>.<region>.fluxcd.io."""
        [patch] = controller_env_patch("other", [AWS], namespace="flux")

        env = _patch_document(patch)["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {
            "name": "AWS_ROLE_SESSION_NAME",
            "value": "source-controller.flux.eu-west-1.fluxcd.io",
        } in env

    def test_refuses_a_session_name_sts_would_refuse(self) -> None:
        """STS session names are at most 64 characters."""
        with pytest.raises(ValueError, match="at most 64"):
            controller_env_patch("other", [AWS], namespace="a-very-long-flux-namespace-name")

    def test_refuses_two_identities_in_one_cloud(self) -> None:
        """A controller holds one identity per cloud at controller level."""
        other = ControllerTarget.aws("source-controller", role_arn=ROLE_ARN, region="us-east-1")

        with pytest.raises(ValueError, match="two aws identities"):
            controller_env_patch("other", [AWS, other])

    def test_refuses_gcp_without_audience_outside_gke(self) -> None:
        """A GCP target without audience is fine on GKE but not where a token is projected."""
        no_audience = ControllerTarget.gcp("source-controller", audience=None)

        assert controller_env_patch("gke", [no_audience]) == []
        with pytest.raises(ValueError, match="needs the workload identity provider audience"):
            controller_env_patch("eks", [no_audience])


class TestGcpCredentials:
    def test_direct_access(self) -> None:
        """Direct access introspects the token instead of impersonating."""
        config = gcp_credential_config(audience=AUDIENCE, service_account_email=None)

        assert config == {
            "type": "external_account",
            "audience": AUDIENCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "credential_source": {"file": "/var/run/service-account/gcp-token"},
            "token_info_url": "https://sts.googleapis.com/v1/introspect",
        }

    def test_impersonation(self) -> None:
        """Impersonation names the GSA's generateAccessToken URL and no introspection."""
        config = gcp_credential_config(audience=AUDIENCE, service_account_email=GSA)

        assert config == {
            "type": "external_account",
            "audience": AUDIENCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "credential_source": {"file": "/var/run/service-account/gcp-token"},
            "service_account_impersonation_url": (
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
                f"{GSA}:generateAccessToken"
            ),
        }

    def test_configmap(self) -> None:
        """The ConfigMap holds the configuration as JSON under the key the volume projects."""
        config = gcp_credential_config(audience=AUDIENCE, service_account_email=None)

        configmap = gcp_credential_configmap("source-controller", "flux-system", config)

        assert configmap["apiVersion"] == "v1"
        assert configmap["kind"] == "ConfigMap"
        assert configmap["metadata"] == {
            "name": "source-controller-gcp-credentials",
            "namespace": "flux-system",
        }
        assert json.loads(configmap["data"]["credentials.json"]) == config

    def test_configmaps_match_the_patches(self) -> None:
        """ConfigMaps exist exactly where the patches project one: not on GKE."""
        impersonating = ControllerTarget.gcp(
            "source-controller", audience=AUDIENCE, service_account_email=GSA
        )

        on_kind = controller_gcp_configmaps("other", [AWS, impersonating])
        on_gke = controller_gcp_configmaps("gke", [AWS, impersonating])

        assert on_gke == []
        assert [c["metadata"]["name"] for c in on_kind] == ["source-controller-gcp-credentials"]
        stored = json.loads(on_kind[0]["data"]["credentials.json"])
        assert stored == gcp_credential_config(audience=AUDIENCE, service_account_email=GSA)


class TestObjectLevelFeatureGate:
    def test_adds_the_flag_to_the_manager(self) -> None:
        """Each controller gets a JSON6902 add of the feature gate to its first container."""
        patches = object_level_feature_gate_patch(["kustomize-controller", "source-controller"])

        assert [p["target"] for p in patches] == [
            {"kind": "Deployment", "name": "source-controller"},
            {"kind": "Deployment", "name": "kustomize-controller"},
        ]
        assert all(
            _patch_document(p)
            == [
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0/args/-",
                    "value": "--feature-gates=ObjectLevelWorkloadIdentity=true",
                }
            ]
            for p in patches
        )

    def test_each_controller_once(self) -> None:
        """Naming a controller twice patches it once."""
        patches = object_level_feature_gate_patch(list(FLUX_CONTROLLERS) * 2)

        assert [p["target"]["name"] for p in patches] == list(FLUX_CONTROLLERS)

    def test_refuses_an_unknown_controller(self) -> None:
        """Only Flux's controllers have the feature gate."""
        with pytest.raises(ValueError, match="unknown Flux controller"):
            object_level_feature_gate_patch(["tf-controller"])


class TestRenderKustomization:
    def test_lists_flux_files_then_extra_resources(self) -> None:
        """gotk-components and gotk-sync come first, extra resources after, each once."""
        text = render_kustomization([], ["gcp-credentials.yaml", "gotk-sync.yaml"])

        assert yaml.safe_load(text) == {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["gotk-components.yaml", "gotk-sync.yaml", "gcp-credentials.yaml"],
        }

    def test_carries_patches_as_literal_blocks(self) -> None:
        """Patches round-trip exactly and their YAML text stays readable as a block."""
        patches = controller_env_patch("other", [AWS]) + object_level_feature_gate_patch(
            ["helm-controller"]
        )

        text = render_kustomization(patches, [])

        assert yaml.safe_load(text)["patches"] == patches
        assert "- patch: |\n    apiVersion: apps/v1\n" in text

    def test_is_deterministic(self) -> None:
        """The same inputs render the same text."""
        patches = controller_env_patch("other", [GCP, AWS])

        assert render_kustomization(patches, ["a.yaml"]) == render_kustomization(
            controller_env_patch("other", [AWS, GCP]), ["a.yaml"]
        )
