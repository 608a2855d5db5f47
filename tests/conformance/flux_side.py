"""Flux's side of a cell: what it sends to a cloud, read from the plan's annotations and patches.

Flux finds its way to a cloud identity through the ServiceAccount's annotations (object level, and
controller level on the cloud's own managed cluster) or through the environment and projected
token volume the bootstrap patches give a controller (controller level elsewhere). These helpers
read both from the plan's outputs, the way Flux and the cloud SDKs read them.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .cells import Source, Target
from .verifiers import (
    AwsAssumeRole,
    AzureTokenExchange,
    CloudRequest,
    GcpStsExchange,
    GkeWorkloadIdentity,
)

__all__ = [
    "AWS_AUDIENCE",
    "AZURE_AUDIENCE",
    "ROLE_ARN",
    "ControllerSetup",
    "FluxConfigurationError",
    "cloud_request",
    "controller_setup",
    "gcp_credential_config",
    "requested_audience",
]

AWS_AUDIENCE = "sts.amazonaws.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"

ROLE_ARN = "eks.amazonaws.com/role-arn"
AZURE_CLIENT_ID = "azure.workload.identity/client-id"
AZURE_TENANT_ID = "azure.workload.identity/tenant-id"
GCP_PROVIDER = "gcp.auth.fluxcd.io/workload-identity-provider"
GCP_SERVICE_ACCOUNT = "iam.gke.io/gcp-service-account"


class FluxConfigurationError(Exception):
    """Flux, given what the plan outputs, could not even start the exchange."""


def _require(annotations: Mapping[str, str], key: str) -> str:
    value = annotations.get(key)
    if not value:
        msg = f"the ServiceAccount has no {key} annotation: {dict(annotations)}"
        raise FluxConfigurationError(msg)
    return value


def cloud_request(annotations: Mapping[str, str], target: Target, source: Source) -> CloudRequest:
    """The exchange Flux starts for a ServiceAccount with these annotations."""
    if target == "aws":
        return AwsAssumeRole(_require(annotations, ROLE_ARN))
    if target == "azure":
        # Flux refuses object-level Azure access unless both annotations are there.
        return AzureTokenExchange(
            _require(annotations, AZURE_CLIENT_ID), _require(annotations, AZURE_TENANT_ID)
        )
    service_account = annotations.get(GCP_SERVICE_ACCOUNT) or None
    provider = annotations.get(GCP_PROVIDER)
    if provider:
        return GcpStsExchange(f"//iam.googleapis.com/{provider}", service_account)
    if source == "gke":
        # No provider annotation on GKE: Flux uses the metadata server and the built-in pool.
        return GkeWorkloadIdentity(service_account)
    msg = f"a {source} cluster needs the {GCP_PROVIDER} annotation to reach GCP"
    raise FluxConfigurationError(msg)


def requested_audience(request: CloudRequest, gcp_project: str | None) -> str:
    """The audience Flux asks the TokenRequest API for, to make this exchange."""
    if isinstance(request, AwsAssumeRole):
        return AWS_AUDIENCE
    if isinstance(request, AzureTokenExchange):
        return AZURE_AUDIENCE
    if isinstance(request, GcpStsExchange):
        return request.audience
    return f"{gcp_project}.svc.id.goog"


@dataclass(frozen=True)
class ControllerSetup:
    """What a controller's pod gets from the bootstrap patches."""

    env: Mapping[str, str] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    # Absolute file path in the container -> ("token", audience) or ("file", content).
    files: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def token_audience(self, path: str) -> str:
        """The audience of the projected ServiceAccount token mounted at `path`."""
        kind, value = self.files.get(path, ("", ""))
        if kind != "token":
            msg = f"no projected ServiceAccount token is mounted at {path!r}"
            raise FluxConfigurationError(msg)
        return value

    def file(self, path: str) -> str:
        """The content of a file mounted from a ConfigMap at `path`."""
        kind, value = self.files.get(path, ("", ""))
        if kind != "file":
            msg = f"no ConfigMap file is mounted at {path!r}"
            raise FluxConfigurationError(msg)
        return value


def _configmaps(patches: Mapping[str, str], resources: list[str]) -> dict[str, Mapping[str, Any]]:
    """The ConfigMaps the kustomization adds, by name (only listed files are applied)."""
    found = {}
    for name in resources:
        for document in yaml.safe_load_all(patches.get(name, "")):
            if isinstance(document, dict) and document.get("kind") == "ConfigMap":
                found[document["metadata"]["name"]] = document.get("data") or {}
    return found


def controller_setup(patches: Mapping[str, str], controller: str) -> ControllerSetup:
    """Applies the kustomization's patches for one controller Deployment, as kustomize would."""
    kustomization = yaml.safe_load(patches.get("kustomization.yaml", "")) or {}
    configmaps = _configmaps(patches, list(kustomization.get("resources") or []))
    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    args: list[str] = []
    mounts: dict[str, str] = {}
    volumes: dict[str, list[Mapping[str, Any]]] = {}
    for entry in kustomization.get("patches") or []:
        target = entry.get("target") or {}
        if target.get("kind") != "Deployment" or target.get("name") != controller:
            continue
        patch = yaml.safe_load(entry["patch"])
        if isinstance(patch, list):
            # A JSON 6902 patch: only appended container arguments matter here.
            args += [op["value"] for op in patch if str(op.get("path", "")).endswith("/args/-")]
            continue
        template = patch["spec"]["template"]
        labels.update((template.get("metadata") or {}).get("labels") or {})
        for container in template["spec"].get("containers") or []:
            if container.get("name") != "manager":
                continue
            env.update({e["name"]: e["value"] for e in container.get("env") or []})
            mounts.update({m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []})
        for volume in template["spec"].get("volumes") or []:
            volumes[volume["name"]] = (volume.get("projected") or {}).get("sources") or []
    files: dict[str, tuple[str, str]] = {}
    for mount_path, volume_name in mounts.items():
        for source in volumes.get(volume_name, []):
            if "serviceAccountToken" in source:
                token = source["serviceAccountToken"]
                path = posixpath.join(mount_path, token["path"])
                files[path] = ("token", str(token.get("audience", "")))
            if "configMap" in source:
                data = configmaps.get(source["configMap"]["name"], {})
                for item in source["configMap"].get("items") or []:
                    path = posixpath.join(mount_path, item["path"])
                    if item["key"] in data:
                        files[path] = ("file", str(data[item["key"]]))
    return ControllerSetup(env, labels, tuple(args), files)


def gcp_credential_config(setup: ControllerSetup) -> dict[str, Any]:
    """The external_account credential file GOOGLE_APPLICATION_CREDENTIALS points at."""
    path = setup.env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        msg = "the controller has no GOOGLE_APPLICATION_CREDENTIALS"
        raise FluxConfigurationError(msg)
    config = json.loads(setup.file(path))
    if not isinstance(config, dict):
        msg = f"{path} is not a JSON object"
        raise FluxConfigurationError(msg)
    return config
