"""Pure builders for the Kubernetes side of secret-less trust: what Flux itself must carry.

ServiceAccount annotations name the cloud identity a controller or tenant acts as; Kustomize
patches for ``flux bootstrap`` give the controllers what they need to obtain a cloud token on
clusters that are not that cloud's own managed service. Plain values in, plain dicts and YAML
text out; nothing here talks to a cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import yaml

from .trust_policy import AWS_AUDIENCE, AZURE_AUDIENCE, AZURE_AUTHORITY_HOST

__all__ = [
    "AWS_ROLE_ARN_ANNOTATION",
    "AZURE_CLIENT_ID_ANNOTATION",
    "AZURE_TENANT_ID_ANNOTATION",
    "AZURE_USE_LABEL",
    "CLOUDS",
    "CLUSTER_TYPES",
    "FLUX_CONTROLLERS",
    "GCP_CREDENTIALS_KEY",
    "GCP_SERVICE_ACCOUNT_ANNOTATION",
    "GCP_WORKLOAD_IDENTITY_PROVIDER_ANNOTATION",
    "OBJECT_LEVEL_FEATURE_GATE",
    "TOKEN_EXPIRATION_SECONDS",
    "TOKEN_MOUNT_PATH",
    "Cloud",
    "ClusterType",
    "ControllerSetup",
    "ControllerTarget",
    "aws_annotations",
    "azure_annotations",
    "controller_env_patch",
    "controller_gcp_configmaps",
    "controller_level_setup",
    "gcp_annotations",
    "gcp_credential_config",
    "gcp_credential_configmap",
    "gcp_credential_configmap_name",
    "merge_annotations",
    "object_level_feature_gate_patch",
    "render_kustomization",
]

Cloud = Literal["aws", "azure", "gcp"]
ClusterType = Literal["aks", "eks", "gke", "other"]
# What a controller Deployment needs to reach a cloud at controller level:
# nothing, the AKS workload identity pod label, or a projected token plus environment.
ControllerSetup = Literal["none", "pod-label", "projected-token"]

CLOUDS: tuple[Cloud, ...] = get_args(Cloud)
CLUSTER_TYPES: tuple[ClusterType, ...] = get_args(ClusterType)
FLUX_CONTROLLERS: tuple[str, ...] = (
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
)

AWS_ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
AZURE_CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
AZURE_TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
AZURE_USE_LABEL = "azure.workload.identity/use"
GCP_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account"
GCP_WORKLOAD_IDENTITY_PROVIDER_ANNOTATION = "gcp.auth.fluxcd.io/workload-identity-provider"

OBJECT_LEVEL_FEATURE_GATE = "ObjectLevelWorkloadIdentity=true"
TOKEN_MOUNT_PATH = "/var/run/service-account"
# Tokens are short-lived on purpose; the kubelet refreshes a projected token well before expiry.
TOKEN_EXPIRATION_SECONDS = 3600
GCP_CREDENTIALS_KEY = "credentials.json"

_MANAGER_CONTAINER = "manager"
_TOKEN_VOLUME = "cloud-service-account"
_TOKEN_PATHS: Mapping[Cloud, str] = {
    "aws": "aws-token",
    "azure": "azure-token",
    "gcp": "gcp-token",
}
_GCP_CREDENTIALS_PATH = "gcp-credentials.json"
_BASE_RESOURCES = ("gotk-components.yaml", "gotk-sync.yaml")
_YAML_WIDTH = 4096
# On its own managed service, a cloud's webhook or metadata server hands Flux its token; every
# other (cluster type, cloud) pair needs a projected token and the SDK's environment variables.
_OWN_SERVICE_SETUP: Mapping[tuple[str, str], ControllerSetup] = {
    ("eks", "aws"): "none",
    ("aks", "azure"): "pod-label",
    ("gke", "gcp"): "none",
}
# AWS STS refuses a RoleSessionName longer than 64 characters or outside [\w+=,.@-].
_AWS_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}")
_AWS_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_GCP_PROVIDER_NAME = (
    r"projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]+/providers/[a-z0-9-]+"
)
_GCP_PROVIDER_NAME_RE = re.compile(_GCP_PROVIDER_NAME)
_GCP_AUDIENCE_RE = re.compile(f"//iam.googleapis.com/{_GCP_PROVIDER_NAME}")
# Which cloud each ControllerTarget field belongs to, and which of them a target cannot lack.
_TARGET_FIELDS: Mapping[str, Cloud] = {
    "role_arn": "aws",
    "region": "aws",
    "client_id": "azure",
    "tenant_id": "azure",
    "audience": "gcp",
    "service_account_email": "gcp",
}
_REQUIRED_TARGET_FIELDS = frozenset({"role_arn", "region", "client_id", "tenant_id"})
_GCP_STS_TOKEN_URL = "https://sts.googleapis.com/v1/token"
_GCP_STS_INTROSPECT_URL = "https://sts.googleapis.com/v1/introspect"
_GCP_IMPERSONATION_URL = (
    "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
    "{email}:generateAccessToken"
)


def _require_value(label: str, value: str) -> str:
    """Return ``value`` if it is a non-empty string without whitespace, else raise ValueError."""
    if not value or any(char.isspace() for char in value):
        msg = f"{label} must be a non-empty value without whitespace, got {value!r}"
        raise ValueError(msg)
    return value


def _require_controller(controller: str) -> str:
    """Return ``controller`` if it is one of Flux's controllers, else raise ValueError."""
    if controller not in FLUX_CONTROLLERS:
        msg = (
            f"unknown Flux controller {controller!r}: expected one of {', '.join(FLUX_CONTROLLERS)}"
        )
        raise ValueError(msg)
    return controller


def _require_cluster_type(cluster_type: str) -> ClusterType:
    """Return ``cluster_type`` if it is a known cluster type, else raise ValueError."""
    for known in CLUSTER_TYPES:
        if cluster_type == known:
            return known
    msg = f"unknown cluster type {cluster_type!r}: expected one of {', '.join(CLUSTER_TYPES)}"
    raise ValueError(msg)


def _require_gcp_provider_name(value: str) -> str:
    """Return ``value`` if it is a workload identity provider resource name."""
    if _GCP_PROVIDER_NAME_RE.fullmatch(value) is None:
        msg = (
            f"workload identity provider {value!r} must be projects/<number>/locations/global/"
            "workloadIdentityPools/<pool>/providers/<provider> (without //iam.googleapis.com/)"
        )
        raise ValueError(msg)
    return value


def _require_gcp_audience(value: str) -> str:
    """Return ``value`` if it is a provider audience ``//iam.googleapis.com/projects/...``."""
    if _GCP_AUDIENCE_RE.fullmatch(value) is None:
        msg = (
            f"GCP audience {value!r} must be //iam.googleapis.com/projects/<number>/locations/"
            "global/workloadIdentityPools/<pool>/providers/<provider>"
        )
        raise ValueError(msg)
    return value


# --- ServiceAccount annotations ---------------------------------------------------------------


def aws_annotations(role_arn: str) -> dict[str, str]:
    """Return the annotation naming the IAM role a ServiceAccount assumes."""
    return {AWS_ROLE_ARN_ANNOTATION: _require_value("AWS role ARN", role_arn)}


def azure_annotations(client_id: str, tenant_id: str) -> dict[str, str]:
    """Return the annotations naming the managed identity a ServiceAccount acts as.

    Both are required: at object level Flux fails when either is missing.
    """
    return {
        AZURE_CLIENT_ID_ANNOTATION: _require_value("Azure client id", client_id),
        AZURE_TENANT_ID_ANNOTATION: _require_value("Azure tenant id", tenant_id),
    }


def gcp_annotations(
    *, service_account_email: str | None, workload_identity_provider: str | None
) -> dict[str, str]:
    """Return the annotations for GCP access.

    Args:
        service_account_email: the Google service account to impersonate, or None for direct
            access (roles granted to the federated principal itself).
        workload_identity_provider: the provider's resource name ``projects/<number>/...``,
            needed on clusters other than GKE; None on GKE.
    """
    annotations: dict[str, str] = {}
    if service_account_email is not None:
        annotations[GCP_SERVICE_ACCOUNT_ANNOTATION] = _require_value(
            "Google service account email", service_account_email
        )
    if workload_identity_provider is not None:
        annotations[GCP_WORKLOAD_IDENTITY_PROVIDER_ANNOTATION] = _require_gcp_provider_name(
            workload_identity_provider
        )
    return annotations


def merge_annotations(*parts: Mapping[str, str]) -> dict[str, str]:
    """Return the union of annotation sets, refusing one key with two different values.

    Raises:
        ValueError: if two parts give the same key different values.
    """
    merged: dict[str, str] = {}
    for part in parts:
        for key, value in part.items():
            if key in merged and merged[key] != value:
                msg = f"annotation {key!r} given twice: {merged[key]!r} and {value!r}"
                raise ValueError(msg)
            merged[key] = value
    return merged


# --- Controller level -------------------------------------------------------------------------


def controller_level_setup(cluster_type: str, cloud: str) -> ControllerSetup:
    """Return what a controller on ``cluster_type`` needs in its Deployment to reach ``cloud``.

    ``none`` on EKS to AWS and GKE to GCP (webhook or metadata server), ``pod-label`` on AKS to
    Azure (the workload identity webhook acts on labelled pods), ``projected-token`` otherwise.
    """
    known_type = _require_cluster_type(cluster_type)
    if cloud not in CLOUDS:
        msg = f"unknown cloud {cloud!r}: expected one of {', '.join(CLOUDS)}"
        raise ValueError(msg)
    return _OWN_SERVICE_SETUP.get((known_type, cloud), "projected-token")


@dataclass(frozen=True)
class ControllerTarget:
    """One Flux controller reaching one cloud at controller level.

    Attributes:
        controller: the controller (one of :data:`FLUX_CONTROLLERS`).
        cloud: ``aws``, ``azure`` or ``gcp``.
        role_arn: AWS only: the IAM role to assume.
        region: AWS only: the region of the STS endpoint and the resources.
        client_id: Azure only: client id of the user-assigned managed identity.
        tenant_id: Azure only: the Entra ID tenant.
        audience: GCP only: ``//iam.googleapis.com/projects/<number>/...providers/<provider>``;
            may be None on GKE, whose metadata server needs no audience from Flux.
        service_account_email: GCP only: the Google service account to impersonate, or None
            for direct access.
    """

    controller: str
    cloud: Cloud
    role_arn: str | None = None
    region: str | None = None
    client_id: str | None = None
    tenant_id: str | None = None
    audience: str | None = None
    service_account_email: str | None = None

    def __post_init__(self) -> None:
        """Check the controller, the cloud, and that exactly that cloud's values are set."""
        _require_controller(self.controller)
        if self.cloud not in CLOUDS:
            msg = f"unknown cloud {self.cloud!r}: expected one of {', '.join(CLOUDS)}"
            raise ValueError(msg)
        for name, cloud in _TARGET_FIELDS.items():
            value = getattr(self, name)
            if value is None:
                if cloud == self.cloud and name in _REQUIRED_TARGET_FIELDS:
                    msg = f"{self.controller}: {name} is required for {cloud}"
                    raise ValueError(msg)
            elif cloud != self.cloud:
                msg = f"{self.controller}: {name} belongs to {cloud}, not {self.cloud}"
                raise ValueError(msg)
            else:
                _require_value(f"{self.controller}: {name}", value)
        if self.region is not None and _AWS_REGION_RE.fullmatch(self.region) is None:
            msg = f"{self.controller}: {self.region!r} is not an AWS region name"
            raise ValueError(msg)
        if self.audience is not None:
            _require_gcp_audience(self.audience)

    @classmethod
    def aws(cls, controller: str, *, role_arn: str, region: str) -> ControllerTarget:
        """Return a target for AWS."""
        return cls(controller, "aws", role_arn=role_arn, region=region)

    @classmethod
    def azure(cls, controller: str, *, client_id: str, tenant_id: str) -> ControllerTarget:
        """Return a target for Azure."""
        return cls(controller, "azure", client_id=client_id, tenant_id=tenant_id)

    @classmethod
    def gcp(
        cls,
        controller: str,
        *,
        audience: str | None,
        service_account_email: str | None = None,
    ) -> ControllerTarget:
        """Return a target for GCP (direct access unless a service account is given)."""
        return cls(
            controller,
            "gcp",
            audience=audience,
            service_account_email=service_account_email,
        )


def _required(target: ControllerTarget, name: str, value: str | None) -> str:
    """Return a target's ``value`` for field ``name``; ControllerTarget already requires it."""
    if value is None:
        msg = f"{target.controller}: {name} is required for {target.cloud}"
        raise ValueError(msg)
    return value


def _gcp_audience_of(target: ControllerTarget) -> str:
    """Return the provider audience of a GCP target that needs a projected token."""
    if target.audience is None:
        msg = (
            f"{target.controller}: GCP needs the workload identity provider audience "
            "(//iam.googleapis.com/projects/...) on clusters other than GKE"
        )
        raise ValueError(msg)
    return target.audience


def _token_file(cloud: Cloud) -> str:
    """Return where the projected token for ``cloud`` is mounted."""
    return f"{TOKEN_MOUNT_PATH}/{_TOKEN_PATHS[cloud]}"


def _token_source(cloud: Cloud, audience: str) -> dict[str, Any]:
    """Return a projected volume source for a ServiceAccount token with ``audience``."""
    return {
        "serviceAccountToken": {
            "audience": audience,
            "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
            "path": _TOKEN_PATHS[cloud],
        }
    }


def _aws_session_name(controller: str, namespace: str, region: str) -> str:
    """Return the STS session name CloudTrail shows for a controller."""
    name = f"{controller}.{namespace}.{region}.fluxcd.io"
    if _AWS_SESSION_NAME_RE.fullmatch(name) is None:
        msg = (
            f"AWS session name {name!r} is {len(name)} characters; STS allows at most 64 of "
            "[A-Za-z0-9_+=,.@-]: use a shorter Flux namespace"
        )
        raise ValueError(msg)
    return name


def _env(name: str, value: str) -> dict[str, str]:
    """Return one container environment variable."""
    return {"name": name, "value": value}


def _projection(target: ControllerTarget, namespace: str) -> tuple[list[Any], list[Any]]:
    """Return the projected volume sources and environment variables a target needs."""
    if target.cloud == "aws":
        region = _required(target, "region", target.region)
        session = _aws_session_name(target.controller, namespace, region)
        sources = [_token_source("aws", AWS_AUDIENCE)]
        env = [
            _env("AWS_REGION", region),
            _env("AWS_ROLE_ARN", _required(target, "role_arn", target.role_arn)),
            _env("AWS_ROLE_SESSION_NAME", session),
            _env("AWS_WEB_IDENTITY_TOKEN_FILE", _token_file("aws")),
        ]
    elif target.cloud == "azure":
        sources = [_token_source("azure", AZURE_AUDIENCE)]
        env = [
            _env("AZURE_TENANT_ID", _required(target, "tenant_id", target.tenant_id)),
            _env("AZURE_CLIENT_ID", _required(target, "client_id", target.client_id)),
            _env("AZURE_AUTHORITY_HOST", AZURE_AUTHORITY_HOST),
            _env("AZURE_FEDERATED_TOKEN_FILE", _token_file("azure")),
        ]
    else:
        audience = _gcp_audience_of(target)
        # The credential configuration comes from a ConfigMap projected into the same volume,
        # next to the token file it points at.
        config_map = {
            "name": gcp_credential_configmap_name(target.controller),
            "items": [{"key": GCP_CREDENTIALS_KEY, "path": _GCP_CREDENTIALS_PATH}],
        }
        sources = [_token_source("gcp", audience), {"configMap": config_map}]
        env = [
            _env(
                "GOOGLE_APPLICATION_CREDENTIALS",
                f"{TOKEN_MOUNT_PATH}/{_GCP_CREDENTIALS_PATH}",
            )
        ]
    return sources, env


def _targets_by_controller(
    targets: Sequence[ControllerTarget],
) -> dict[str, list[ControllerTarget]]:
    """Group targets per controller in Flux's controller order, clouds in a fixed order.

    Raises:
        ValueError: if one controller is given two different identities in one cloud: the
            cloud SDKs read one set of environment variables per container.
    """
    seen: dict[tuple[str, str], ControllerTarget] = {}
    for target in targets:
        key = (target.controller, target.cloud)
        if key in seen and seen[key] != target:
            msg = (
                f"{target.controller} is given two {target.cloud} identities; at controller "
                "level a controller acts as one identity per cloud (use object level for more)"
            )
            raise ValueError(msg)
        seen[key] = target
    return {
        controller: [seen[(controller, cloud)] for cloud in CLOUDS if (controller, cloud) in seen]
        for controller in FLUX_CONTROLLERS
        if any((controller, cloud) in seen for cloud in CLOUDS)
    }


def _yaml_text(document: Any) -> str:
    """Return ``document`` as block YAML, keys in the order given."""
    # A wide line limit keeps long values (GCP audiences, ARNs) on one line.
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=_YAML_WIDTH)


def controller_env_patch(
    cluster_type: str,
    targets: Sequence[ControllerTarget],
    namespace: str = "flux-system",
) -> list[dict[str, Any]]:
    """Return the Kustomize patches that let Flux's controllers reach their target clouds.

    One strategic-merge patch per controller Deployment that needs one, combining all its
    clouds: the AKS workload identity pod label where the cluster is AKS and the cloud Azure,
    otherwise (except EKS to AWS and GKE to GCP, which need nothing) one projected volume with
    a token per cloud mounted at :data:`TOKEN_MOUNT_PATH`, and the cloud SDKs' environment
    variables on the ``manager`` container. GCP targets also need the ConfigMaps of
    :func:`controller_gcp_configmaps` among the kustomization's resources.

    Each item is ``{"target": {"kind": "Deployment", "name": ...}, "patch": <YAML text>}``.
    """
    cluster = _require_cluster_type(cluster_type)
    _require_value("namespace", namespace)
    patches: list[dict[str, Any]] = []
    for controller, controller_targets in _targets_by_controller(targets).items():
        labelled = False
        sources: list[Any] = []
        env: list[Any] = []
        for target in controller_targets:
            setup = controller_level_setup(cluster, target.cloud)
            if setup == "pod-label":
                labelled = True
            elif setup == "projected-token":
                target_sources, target_env = _projection(target, namespace)
                sources.extend(target_sources)
                env.extend(target_env)
        if not labelled and not sources:
            continue

        template: dict[str, Any] = {}
        if labelled:
            template["metadata"] = {"labels": {AZURE_USE_LABEL: "true"}}
        if sources:
            # The strategic merge matches containers by name; Flux names its only one manager.
            template["spec"] = {
                "containers": [
                    {
                        "name": _MANAGER_CONTAINER,
                        "env": env,
                        "volumeMounts": [
                            {
                                "name": _TOKEN_VOLUME,
                                "mountPath": TOKEN_MOUNT_PATH,
                                "readOnly": True,
                            }
                        ],
                    }
                ],
                "volumes": [{"name": _TOKEN_VOLUME, "projected": {"sources": sources}}],
            }
        patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": controller},
            "spec": {"template": template},
        }
        patches.append(
            {
                "target": {"kind": "Deployment", "name": controller},
                "patch": _yaml_text(patch),
            }
        )
    return patches


def gcp_credential_config(*, audience: str, service_account_email: str | None) -> dict[str, Any]:
    """Return the ``external_account`` credential configuration a controller reads for GCP.

    Args:
        audience: ``//iam.googleapis.com/projects/<number>/.../providers/<provider>``.
        service_account_email: the Google service account to impersonate; None for direct
            access, where the token is introspected instead.
    """
    config: dict[str, Any] = {
        "type": "external_account",
        "audience": _require_gcp_audience(audience),
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": _GCP_STS_TOKEN_URL,
        "credential_source": {"file": _token_file("gcp")},
    }
    if service_account_email is None:
        config["token_info_url"] = _GCP_STS_INTROSPECT_URL
    else:
        email = _require_value("Google service account email", service_account_email)
        config["service_account_impersonation_url"] = _GCP_IMPERSONATION_URL.format(email=email)
    return config


def gcp_credential_configmap_name(controller: str) -> str:
    """Return the name of the ConfigMap holding a controller's GCP credential configuration."""
    return f"{_require_controller(controller)}-gcp-credentials"


def gcp_credential_configmap(
    controller: str, namespace: str, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the ConfigMap manifest holding a controller's GCP credential configuration."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": gcp_credential_configmap_name(controller),
            "namespace": _require_value("namespace", namespace),
        },
        "data": {GCP_CREDENTIALS_KEY: json.dumps(config, indent=2, sort_keys=True) + "\n"},
    }


def controller_gcp_configmaps(
    cluster_type: str,
    targets: Sequence[ControllerTarget],
    namespace: str = "flux-system",
) -> list[dict[str, Any]]:
    """Return the credential ConfigMaps the patches of :func:`controller_env_patch` mount.

    Empty on GKE, where the metadata server provides GCP credentials.
    """
    cluster = _require_cluster_type(cluster_type)
    return [
        gcp_credential_configmap(
            controller,
            namespace,
            gcp_credential_config(
                audience=_gcp_audience_of(target),
                service_account_email=target.service_account_email,
            ),
        )
        for controller, controller_targets in _targets_by_controller(targets).items()
        for target in controller_targets
        if target.cloud == "gcp" and controller_level_setup(cluster, "gcp") == "projected-token"
    ]


# --- Object level -----------------------------------------------------------------------------


def object_level_feature_gate_patch(controllers: Sequence[str]) -> list[dict[str, Any]]:
    """Return JSON6902 patches turning on object-level workload identity in ``controllers``.

    Each appends ``--feature-gates=ObjectLevelWorkloadIdentity=true`` to the arguments of the
    Deployment's first container, which in Flux's Deployments is ``manager``, the only one.
    """
    if isinstance(controllers, str):
        msg = "controllers must be a sequence of controller names, not a single string"
        raise TypeError(msg)
    wanted = {_require_controller(controller) for controller in controllers}
    operation = [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/args/-",
            "value": f"--feature-gates={OBJECT_LEVEL_FEATURE_GATE}",
        }
    ]
    return [
        {
            "target": {"kind": "Deployment", "name": controller},
            "patch": _yaml_text(operation),
        }
        for controller in FLUX_CONTROLLERS
        if controller in wanted
    ]


# --- kustomization.yaml -----------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Safe YAML dumper writing multi-line strings (the patches) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Represent multi-line strings in the ``|`` style, others as usual."""
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def render_kustomization(
    patches: Sequence[Mapping[str, Any]], resources: Sequence[str] = ()
) -> str:
    """Return the text of the ``flux-system/kustomization.yaml`` that ``flux bootstrap`` reads.

    Resources are Flux's two generated files followed by ``resources`` (duplicates dropped);
    patches keep their order, each with its keys sorted, so the text is the same on every run.
    """
    listed = list(_BASE_RESOURCES)
    for resource in resources:
        if resource not in listed:
            listed.append(_require_value("kustomization resource", resource))
    document: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": listed,
    }
    if patches:
        document["patches"] = [dict(sorted(patch.items())) for patch in patches]
    return yaml.dump(
        document, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, width=_YAML_WIDTH
    )
