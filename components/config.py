"""The stack configuration: parsed into typed objects and validated before anything is declared.

This module is pure: it reads plain values (as `pulumi.Config.get_object` returns them, or as a
stack file holds them) and returns frozen dataclasses, or raises one `ConfigError` that lists every
problem found, each with its key path, what is wrong and what is allowed. Nothing here declares a
resource, so the program never stops half-way through a graph because of a bad value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias, TypeVar, cast

import yaml

from .errors import ConfigError, ConfigProblem
from .flux_config import FLUX_CONTROLLERS
from .trust_policy import (
    AWS_OIDC_PROVIDER_ARN_RE,
    AWS_TRUST_POLICY_MAX_CHARS,
    AZURE_BUILTIN_ROLES,
    AZURE_MAX_FEDERATED_CREDENTIALS,
    azure_role_definition_id,
    validate_aws_policy_arn,
    validate_azure_scope,
    validate_gcp_id,
    validate_gcp_role,
    validate_issuer_url,
)

__all__ = [
    "CLOUDS",
    "CONFIG_NAMESPACE",
    "AwsAccess",
    "AwsSettings",
    "AzureAccess",
    "AzureRole",
    "AzureSettings",
    "CloudName",
    "ClusterConfig",
    "ClusterType",
    "GcpAccess",
    "GcpRole",
    "GcpSettings",
    "IdentityConfig",
    "IssuerHost",
    "IssuerLookup",
    "IssuerSource",
    "IssuerUrl",
    "JwksFile",
    "JwksFromCluster",
    "JwksGenerate",
    "JwksPublicKeys",
    "JwksSource",
    "KubernetesAccess",
    "Level",
    "ServiceAccountRef",
    "StackConfig",
    "load_stack_file",
    "parse_stack_config",
]

CONFIG_NAMESPACE = "fluxtrust"

CloudName: TypeAlias = Literal["aws", "azure", "gcp"]
ClusterType: TypeAlias = Literal["aks", "eks", "gke", "other"]
Level: TypeAlias = Literal["controller", "object"]
GcpAccessMode: TypeAlias = Literal["direct", "impersonation"]
GcpJwksMode: TypeAlias = Literal["upload", "discover"]
SigningAlgorithm: TypeAlias = Literal["RS256", "ES256"]

CLOUDS: tuple[CloudName, ...] = ("aws", "azure", "gcp")
CLUSTER_TYPES: tuple[ClusterType, ...] = ("aks", "eks", "gke", "other")
LEVELS: tuple[Level, ...] = ("controller", "object")

# The cloud whose managed Kubernetes service each cluster type is; used to pick GKE's built-in
# workload identity and to decide which Flux patches a cluster needs.
MANAGED_CLOUD: Mapping[ClusterType, CloudName | None] = {
    "aks": "azure",
    "eks": "aws",
    "gke": "gcp",
    "other": None,
}

# The highest 'Role trust policy length' quota IAM grants on request.
AWS_TRUST_POLICY_QUOTA_MAX = 4096

# Cluster and identity names become parts of cloud resource names (IAM roles, managed identities,
# GCP provider ids), so they are kept short and lowercase.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
NAME_RULE = "1 to 30 characters of a-z, 0-9 and '-', starting with a letter"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
AWS_ACCOUNT = re.compile(r"^\d{12}$")
AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
AZURE_RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
AZURE_LOCATION = re.compile(r"^[a-z0-9]+$")
AZURE_STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
AZURE_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
GCP_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
GCP_LOCATION = re.compile(r"^[a-z]+-[a-z]+\d+(-[a-z])?$")
# S3 and GCS: 3 to 63 lowercase letters, digits and hyphens. Dots are legal in both clouds but are
# refused here: a dotted bucket name breaks the wildcard TLS certificate of virtual-host URLs, and
# a cloud's STS will not fetch a discovery document over a broken TLS chain.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class AwsSettings:
    """The AWS account that trusts the clusters (`fluxtrust:aws`)."""

    region: str
    account_id: str | None = None  # None: looked up from the caller's credentials at deploy time
    # IAM's 'Role trust policy length' quota: 2,048 characters unless the account raised it.
    trust_policy_max_chars: int = AWS_TRUST_POLICY_MAX_CHARS


@dataclass(frozen=True)
class AzureSettings:
    """The Azure tenant, subscription and resource group holding the managed identities."""

    tenant_id: str
    subscription_id: str
    resource_group: str
    location: str


@dataclass(frozen=True)
class GcpSettings:
    """The GCP project and the workload identity pool that trusts the clusters."""

    project: str
    project_number: str
    pool: str


@dataclass(frozen=True)
class IssuerUrl:
    """The cluster's issuer is known and already public (managed clusters, or hosted elsewhere)."""

    url: str


@dataclass(frozen=True)
class IssuerLookup:
    """The issuer of a managed cluster, found from the cluster's name at deploy time."""

    name: str
    region: str | None = None  # EKS; defaults to fluxtrust:aws.region
    resource_group: str | None = None  # AKS; defaults to fluxtrust:azure.resourceGroup
    project: str | None = None  # GKE; defaults to fluxtrust:gcp.project
    location: str | None = None  # GKE: the cluster's region or zone


@dataclass(frozen=True)
class IssuerHost:
    """The discovery documents are published in a public bucket that fluxtrust declares."""

    cloud: CloudName
    bucket: str | None = None  # aws and gcp
    storage_account: str | None = None  # azure
    container: str | None = None  # azure
    url: str | None = None  # a custom domain or CDN in front of the bucket


IssuerSource: TypeAlias = IssuerUrl | IssuerLookup | IssuerHost


def s3_bucket_url(bucket: str, region: str) -> str:
    """The virtual-hosted, regional HTTPS URL of an S3 bucket's root.

    The regional endpoint answers directly (the global one redirects for buckets outside
    us-east-1, and verifiers do not all follow redirects).
    """
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{suffix}"


def azure_container_url(storage_account: str, container: str) -> str:
    """The HTTPS URL of a blob container in the public Azure cloud."""
    return f"https://{storage_account}.blob.core.windows.net/{container}"


def gcs_bucket_url(bucket: str) -> str:
    """The path-style HTTPS URL of a GCS bucket (covered by Google's certificate for any name)."""
    return f"https://storage.googleapis.com/{bucket}"


def host_url(host: IssuerHost, aws_region: str | None) -> str | None:
    """The issuer URL a host publishes at: its custom URL, else its bucket's own (None when an
    S3 host's region is unknown)."""
    if host.url is not None:
        return host.url
    if host.cloud == "aws":
        return s3_bucket_url(host.bucket, aws_region) if host.bucket and aws_region else None
    if host.cloud == "azure":
        if host.storage_account is None or host.container is None:
            return None
        return azure_container_url(host.storage_account, host.container)
    return gcs_bucket_url(host.bucket) if host.bucket else None


@dataclass(frozen=True)
class JwksPublicKeys:
    """The JWKS is built from PEM public key files (paths relative to the project directory)."""

    paths: tuple[str, ...]
    check_cluster: JwksFromCluster | None = None
    allow_removing_cluster_keys: bool = False


@dataclass(frozen=True)
class JwksFile:
    """The JWKS is a JSON document on disk."""

    path: str
    check_cluster: JwksFromCluster | None = None
    allow_removing_cluster_keys: bool = False


@dataclass(frozen=True)
class JwksFromCluster:
    """The JWKS is fetched from the cluster's API server when the program runs."""

    kubeconfig: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class JwksGenerate:
    """fluxtrust generates the cluster's signing key, kept as a Pulumi secret."""

    algorithm: SigningAlgorithm = "RS256"


JwksSource: TypeAlias = JwksPublicKeys | JwksFile | JwksFromCluster | JwksGenerate


@dataclass(frozen=True)
class KubernetesAccess:
    """How to reach a cluster's API server to manage the Flux ServiceAccounts in it."""

    kubeconfig: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class ClusterConfig:
    """One source cluster (`fluxtrust:clusters[i]`)."""

    name: str
    type: ClusterType
    issuer: IssuerSource
    jwks: JwksSource | None = None
    previous_issuers: tuple[str, ...] = ()
    kubernetes: KubernetesAccess | None = None
    # Existing IAM OIDC providers to reuse, each standing for one of the cluster's issuers.
    aws_oidc_provider_arns: tuple[str, ...] = ()
    # How GCP learns the cluster's keys: "upload" puts the JWKS on the workload identity provider
    # (the issuer need not be public), "discover" lets GCP fetch it from the issuer.
    gcp_jwks: GcpJwksMode = "discover"
    former_names: tuple[str, ...] = ()
    # Retired issuers that fluxtrust published, with their URLs (also in previous_issuers).
    previous_hosts: tuple[tuple[str, IssuerHost], ...] = ()
    index: int = field(default=0, compare=False)

    @property
    def naming(self) -> str:
        """The name resources are named after: the first name the cluster had.

        Renaming a cluster (listing its old name under formerNames) then changes what reviewers
        read, not the names of its resources, so nothing is replaced.
        """
        return self.former_names[0] if self.former_names else self.name

    @property
    def managed_cloud(self) -> CloudName | None:
        """The cloud whose managed Kubernetes service this cluster is, if any."""
        return MANAGED_CLOUD[self.type]


@dataclass(frozen=True, order=True)
class ServiceAccountRef:
    """A Kubernetes ServiceAccount, `namespace/name`."""

    namespace: str
    name: str

    @property
    def subject(self) -> str:
        """The `sub` claim of this ServiceAccount's tokens."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class AwsAccess:
    """What an identity may do in AWS: managed policies and an optional inline policy."""

    policy_arns: tuple[str, ...] = ()
    inline_policy: str | None = None  # canonical JSON


@dataclass(frozen=True)
class AzureRole:
    """One Azure role assignment: a built-in role name or role definition id, at a scope."""

    role: str
    scope: str


@dataclass(frozen=True)
class AzureAccess:
    """What an identity may do in Azure."""

    roles: tuple[AzureRole, ...]


@dataclass(frozen=True)
class GcpRole:
    """One GCP IAM role, granted on the project of `fluxtrust:gcp`."""

    role: str


@dataclass(frozen=True)
class GcpAccess:
    """What an identity may do in GCP, and whether it acts directly or through a service account."""

    roles: tuple[GcpRole, ...]
    access: GcpAccessMode = "direct"


@dataclass(frozen=True)
class IdentityConfig:
    """One identity (`fluxtrust:identities[i]`): a ServiceAccount trusted in some clouds."""

    name: str
    level: Level
    clusters: tuple[str, ...]
    service_account: ServiceAccountRef
    aws: AwsAccess | None = None
    azure: AzureAccess | None = None
    gcp: GcpAccess | None = None
    former_names: tuple[str, ...] = ()
    index: int = field(default=0, compare=False)

    @property
    def naming(self) -> str:
        """The name resources are named after (role, managed identity, Google service account):
        the first name the identity had, so that renaming it replaces nothing."""
        return self.former_names[0] if self.former_names else self.name

    @property
    def clouds(self) -> tuple[CloudName, ...]:
        """The target clouds this identity reaches, in a fixed order."""
        blocks = {"aws": self.aws, "azure": self.azure, "gcp": self.gcp}
        return tuple(cloud for cloud in CLOUDS if blocks[cloud] is not None)


@dataclass(frozen=True)
class StackConfig:
    """The whole validated stack configuration."""

    clusters: tuple[ClusterConfig, ...]
    identities: tuple[IdentityConfig, ...]
    aws: AwsSettings | None = None
    azure: AzureSettings | None = None
    gcp: GcpSettings | None = None

    def cluster(self, name: str) -> ClusterConfig:
        """The cluster called `name` (validation guarantees that identities name real ones)."""
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        msg = f"no cluster named {name!r}"
        raise KeyError(msg)

    def identities_on(self, cluster_name: str) -> tuple[IdentityConfig, ...]:
        """The identities whose ServiceAccount lives in the given cluster."""
        return tuple(i for i in self.identities if cluster_name in i.clusters)


# --------------------------------------------------------------------------------------------
# Reading plain values with key paths


_T = TypeVar("_T")


class _Reader:
    """Collects problems while reading plain values, so that all of them are reported at once."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(path, message))

    def mapping(
        self,
        value: object,
        path: str,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
    ) -> Mapping[str, object] | None:
        """A mapping with exactly the given keys; unknown keys are problems, not ignored."""
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping, got {_describe(value)}")
            return None
        required = tuple(required)
        allowed = (*required, *optional)
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}", f"unknown key; allowed keys: {', '.join(allowed)}")
        for key in required:
            if key not in value or value[key] is None:
                self.fail(f"{path}.{key}", "is required")
        return cast("Mapping[str, object]", value)

    def string(
        self,
        value: object,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        choices: Sequence[str] = (),
        accept_int: bool = False,
    ) -> str | None:
        """A string matching `pattern` or one of `choices`; None (with a problem) otherwise."""
        if accept_int and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {_describe(value)}")
            return None
        if choices and value not in choices:
            self.fail(path, f"is {value!r}; allowed: {', '.join(choices)}")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"is {value!r}; must be {rule}")
            return None
        return value

    def optional_string(
        self, parent: Mapping[str, object], key: str, path: str, **kwargs: object
    ) -> str | None:
        if parent.get(key) is None:
            return None
        return self.string(parent[key], f"{path}.{key}", **kwargs)  # type: ignore[arg-type]

    def items(self, value: object, path: str, *, non_empty: bool = True) -> list[object]:
        """A list; a missing or empty one is a problem when `non_empty`."""
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {_describe(value)}")
            return []
        if non_empty and not value:
            self.fail(path, "must not be empty")
        return value

    def each(self, value: object, path: str, read: Callable[[object, str], _T | None]) -> list[_T]:
        """Reads every item of a list with `read`, keeping the ones that were valid."""
        out: list[_T] = []
        for i, item in enumerate(self.items(value, path)):
            parsed = read(item, f"{path}[{i}]")
            if parsed is not None:
                out.append(parsed)
        return out


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _key(name: str) -> str:
    return f"{CONFIG_NAMESPACE}:{name}"


# --------------------------------------------------------------------------------------------
# Top-level settings


def _read_aws(r: _Reader, value: object) -> AwsSettings | None:
    path = _key("aws")
    m = r.mapping(value, path, required=("region",), optional=("accountId", "trustPolicyMaxChars"))
    if m is None:
        return None
    region = (
        r.string(
            m.get("region"),
            f"{path}.region",
            pattern=AWS_REGION,
            rule="an AWS region such as eu-west-1",
        )
        if "region" in m
        else None
    )
    account: str | None = None
    if m.get("accountId") is not None:
        raw = m["accountId"]
        if isinstance(raw, int) and not isinstance(raw, bool):
            r.fail(
                f"{path}.accountId",
                "must be a quoted string of 12 digits (YAML turns an unquoted number into an "
                "integer and drops leading zeros)",
            )
        else:
            account = r.string(raw, f"{path}.accountId", pattern=AWS_ACCOUNT, rule="12 digits")
    limit = AWS_TRUST_POLICY_MAX_CHARS
    if m.get("trustPolicyMaxChars") is not None:
        raw_limit = m["trustPolicyMaxChars"]
        if (
            isinstance(raw_limit, bool)
            or not isinstance(raw_limit, int)
            or not AWS_TRUST_POLICY_MAX_CHARS <= raw_limit <= AWS_TRUST_POLICY_QUOTA_MAX
        ):
            r.fail(
                f"{path}.trustPolicyMaxChars",
                f"is {raw_limit!r}; must be a whole number from {AWS_TRUST_POLICY_MAX_CHARS} "
                f"(IAM's default) to {AWS_TRUST_POLICY_QUOTA_MAX} (the highest quota IAM grants)",
            )
        else:
            limit = raw_limit
    if region is None:
        return None
    return AwsSettings(region=region, account_id=account, trust_policy_max_chars=limit)


def _read_azure(r: _Reader, value: object) -> AzureSettings | None:
    path = _key("azure")
    keys = ("tenantId", "subscriptionId", "resourceGroup", "location")
    m = r.mapping(value, path, required=keys)
    if m is None or any(k not in m for k in keys):
        return None
    tenant = r.string(m["tenantId"], f"{path}.tenantId", pattern=GUID, rule="a GUID")
    sub = r.string(m["subscriptionId"], f"{path}.subscriptionId", pattern=GUID, rule="a GUID")
    group = r.string(
        m["resourceGroup"],
        f"{path}.resourceGroup",
        pattern=AZURE_RESOURCE_GROUP,
        rule="1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'",
    )
    location = r.string(
        m["location"],
        f"{path}.location",
        pattern=AZURE_LOCATION,
        rule="an Azure location name such as westeurope",
    )
    if tenant is None or sub is None or group is None or location is None:
        return None
    return AzureSettings(tenant, sub, group, location)


def _read_gcp(r: _Reader, value: object) -> GcpSettings | None:
    path = _key("gcp")
    keys = ("project", "projectNumber", "pool")
    m = r.mapping(value, path, required=keys)
    if m is None or any(k not in m for k in keys):
        return None
    project = r.string(
        m["project"],
        f"{path}.project",
        pattern=GCP_PROJECT_ID,
        rule="a GCP project id: 6 to 30 characters of a-z, 0-9 and '-', starting with a letter",
    )
    number = r.string(
        m["projectNumber"],
        f"{path}.projectNumber",
        pattern=re.compile(r"^[1-9]\d{0,19}$"),
        rule="the project's number, digits only",
        accept_int=True,
    )
    pool = r.string(m["pool"], f"{path}.pool")
    if pool is not None and (problem := validate_gcp_id(pool)) is not None:
        r.fail(f"{path}.pool", f"is {pool!r}; {problem}")
        pool = None
    if project is None or number is None or pool is None:
        return None
    return GcpSettings(project, number, pool)


# --------------------------------------------------------------------------------------------
# Clusters


def _read_issuer(
    r: _Reader, value: object, path: str, cluster_type: ClusterType | None
) -> IssuerSource | None:
    m = r.mapping(value, path, optional=("url", "lookup", "host"))
    if m is None:
        return None
    given = [k for k in ("url", "lookup", "host") if m.get(k) is not None]
    if len(given) != 1:
        r.fail(path, f"must have exactly one of url, lookup, host; found {len(given)}")
        return None
    kind = given[0]
    sub = f"{path}.{kind}"
    if kind == "url":
        url = r.string(m["url"], sub)
        if url is None:
            return None
        if (problem := validate_issuer_url(url)) is not None:
            r.fail(sub, f"is {url!r}; {problem}")
            return None
        return IssuerUrl(url)
    if kind == "lookup":
        return _read_lookup(r, m["lookup"], sub, cluster_type)
    return _read_host(r, m["host"], sub, cluster_type)


def _read_lookup(
    r: _Reader, value: object, path: str, cluster_type: ClusterType | None
) -> IssuerLookup | None:
    if cluster_type == "other":
        r.fail(path, "is for managed clusters (aks, eks, gke); give url or host for type other")
        return None
    optional = {
        "eks": ("region",),
        "aks": ("resourceGroup",),
        "gke": ("project",),
    }.get(cluster_type or "", ("region", "resourceGroup", "project", "location"))
    required: tuple[str, ...] = ("name", "location") if cluster_type == "gke" else ("name",)
    m = r.mapping(value, path, required=required, optional=optional)
    if m is None or any(k not in m for k in required):
        return None
    name = r.string(
        m["name"],
        f"{path}.name",
        pattern=re.compile(r"^[A-Za-z0-9][-\w.]{0,99}$"),
        rule="a cluster name",
    )
    region = r.optional_string(m, "region", path, pattern=AWS_REGION, rule="an AWS region")
    group = r.optional_string(
        m, "resourceGroup", path, pattern=AZURE_RESOURCE_GROUP, rule="an Azure resource group name"
    )
    project = r.optional_string(m, "project", path, pattern=GCP_PROJECT_ID, rule="a GCP project id")
    location = r.optional_string(
        m,
        "location",
        path,
        pattern=GCP_LOCATION,
        rule="a GCP region or zone such as europe-west1 or europe-west1-b",
    )
    if name is None:
        return None
    return IssuerLookup(
        name, region=region, resource_group=group, project=project, location=location
    )


def _read_host(
    r: _Reader, value: object, path: str, cluster_type: ClusterType | None
) -> IssuerHost | None:
    if cluster_type not in (None, "other"):
        r.fail(
            path,
            f"a {cluster_type} cluster's issuer is set by its cloud and is already public; "
            "give url or lookup (host is for clusters of type other)",
        )
        return None
    m = r.mapping(
        value, path, required=("cloud",), optional=("bucket", "storageAccount", "container", "url")
    )
    if m is None or "cloud" not in m:
        return None
    cloud = r.string(m["cloud"], f"{path}.cloud", choices=CLOUDS)
    if cloud is None:
        return None
    custom_url = r.optional_string(m, "url", path)
    if custom_url is not None:
        if (problem := validate_issuer_url(custom_url)) is not None:
            r.fail(f"{path}.url", f"is {custom_url!r}; {problem}")
        elif custom_url.endswith("/"):
            r.fail(
                f"{path}.url",
                "must not end with '/': the JWKS URI is the issuer plus /openid/v1/jwks",
            )
    bucket_rule = (
        "3 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit "
        "(no dots: they break the bucket's TLS certificate)"
    )
    if cloud in ("aws", "gcp"):
        for key in ("storageAccount", "container"):
            if key in m:
                r.fail(f"{path}.{key}", f"is for cloud azure; a {cloud} host takes bucket")
        if "bucket" not in m:
            r.fail(f"{path}.bucket", f"is required for cloud {cloud}")
            return None
        bucket = r.string(m["bucket"], f"{path}.bucket", pattern=BUCKET_NAME, rule=bucket_rule)
        if bucket is not None and cloud == "gcp" and bucket.startswith("goog"):
            r.fail(f"{path}.bucket", "must not start with 'goog' (reserved by GCS)")
            bucket = None
        if bucket is None:
            return None
        return IssuerHost(cast("CloudName", cloud), bucket=bucket, url=custom_url)
    if "bucket" in m:
        r.fail(
            f"{path}.bucket",
            "is for clouds aws and gcp; an azure host takes storageAccount and container",
        )
    missing = [k for k in ("storageAccount", "container") if k not in m]
    for key in missing:
        r.fail(f"{path}.{key}", "is required for cloud azure")
    if missing:
        return None
    account = r.string(
        m["storageAccount"],
        f"{path}.storageAccount",
        pattern=AZURE_STORAGE_ACCOUNT,
        rule="3 to 24 characters of a-z and 0-9",
    )
    container = r.string(
        m["container"],
        f"{path}.container",
        pattern=AZURE_CONTAINER,
        rule=(
            "3 to 63 characters of a-z, 0-9 and single '-', "
            "starting and ending with a letter or digit"
        ),
    )
    if account is None or container is None:
        return None
    return IssuerHost("azure", storage_account=account, container=container, url=custom_url)


def _read_jwks(
    r: _Reader, value: object, path: str, cluster_type: ClusterType | None
) -> JwksSource | None:
    m = r.mapping(
        value,
        path,
        optional=(
            "publicKeys",
            "file",
            "fromCluster",
            "generate",
            "checkCluster",
            "allowRemovingClusterKeys",
        ),
    )
    if m is None:
        return None
    given = [k for k in ("publicKeys", "file", "fromCluster", "generate") if m.get(k) is not None]
    if len(given) != 1:
        r.fail(
            path,
            f"must have exactly one of publicKeys, file, fromCluster, generate; found {len(given)}",
        )
        return None
    kind = given[0]
    sub = f"{path}.{kind}"
    # With keys given by file, the live cluster can still be asked which keys it serves, so that
    # a rotation never drops a key the cluster may still sign with.
    check: JwksFromCluster | None = None
    allow_removing = False
    if kind in ("publicKeys", "file"):
        if m.get("checkCluster") not in (None, False):
            check = _read_cluster_access(r, m["checkCluster"], f"{path}.checkCluster")
        if m.get("allowRemovingClusterKeys") is not None:
            flag = m["allowRemovingClusterKeys"]
            if not isinstance(flag, bool):
                r.fail(
                    f"{path}.allowRemovingClusterKeys",
                    f"must be true or false, got {_describe(flag)}",
                )
            allow_removing = flag is True
            if allow_removing and check is None:
                r.fail(f"{path}.allowRemovingClusterKeys", "only applies with checkCluster")
    else:
        for key in ("checkCluster", "allowRemovingClusterKeys"):
            if key in m:
                r.fail(f"{path}.{key}", "applies only to publicKeys and file")
    if kind == "publicKeys":
        paths = r.each(m[kind], sub, r.string)
        if len(set(paths)) != len(paths):
            r.fail(sub, "names the same file twice")
            return None
        return JwksPublicKeys(tuple(paths), check, allow_removing) if paths else None
    if kind == "file":
        file = r.string(m[kind], sub)
        return JwksFile(file, check, allow_removing) if file is not None else None
    if kind == "fromCluster":
        return _read_cluster_access(r, m[kind], sub)
    if cluster_type not in (None, "other"):
        r.fail(
            sub, f"a {cluster_type} cluster signs with its cloud's key; generate is for type other"
        )
        return None
    gen = m[kind]
    if gen is True:
        return JwksGenerate()
    g = r.mapping(gen, sub, optional=("algorithm",))
    if g is None:
        return None
    alg = r.optional_string(g, "algorithm", sub, choices=("RS256", "ES256"))
    return JwksGenerate(cast("SigningAlgorithm", alg or "RS256"))


def _read_cluster_access(r: _Reader, value: object, path: str) -> JwksFromCluster | None:
    """`true`, or `{kubeconfig, context}`: how to reach a cluster's API server for its keys."""
    if value is True:
        return JwksFromCluster()
    fc = r.mapping(value, path, optional=("kubeconfig", "context"))
    if fc is None:
        return None
    return JwksFromCluster(
        kubeconfig=r.optional_string(fc, "kubeconfig", path),
        context=r.optional_string(fc, "context", path),
    )


def _read_former_names(r: _Reader, value: object, path: str, name: str | None) -> tuple[str, ...]:
    """The names an entry had before, oldest first: its resources keep the first one's names."""
    if value is None:
        return ()
    names: list[str] = []
    for i, item in enumerate(r.items(value, path, non_empty=False)):
        former = r.string(item, f"{path}[{i}]", pattern=NAME_PATTERN, rule=NAME_RULE)
        if former is None:
            continue
        if former == name or former in names:
            r.fail(f"{path}[{i}]", f"repeats {former!r}")
            continue
        names.append(former)
    return tuple(names)


def _read_kubernetes(r: _Reader, value: object, path: str) -> KubernetesAccess | None:
    m = r.mapping(value, path, optional=("kubeconfig", "context"))
    if m is None:
        return None
    return KubernetesAccess(
        kubeconfig=r.optional_string(m, "kubeconfig", path),
        context=r.optional_string(m, "context", path),
    )


def _read_provider_arns(
    r: _Reader,
    value: object,
    path: str,
    issuer: IssuerSource | None,
    previous: Sequence[str],
) -> tuple[str, ...]:
    """One existing IAM OIDC provider ARN, or a list of them (one per issuer of the cluster).

    A rebuilt EKS cluster comes with a provider for its new issuer while the provider of its old
    issuer, still trusted under previousIssuers, exists too: creating either again would fail.
    """
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    rule = "arn:aws:iam::<12-digit account>:oidc-provider/<issuer without https://>"
    arns: list[str] = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]" if isinstance(value, list) else path
        arn = r.string(item, item_path, pattern=AWS_OIDC_PROVIDER_ARN_RE, rule=rule)
        if arn is None:
            continue
        if isinstance(issuer, IssuerUrl):
            host_paths = [u.removeprefix("https://") for u in (issuer.url, *previous)]
            if not any(arn.endswith(f":oidc-provider/{hp}") for hp in host_paths):
                r.fail(
                    item_path,
                    "names a provider for another issuer; expected it to end with "
                    f"':oidc-provider/{host_paths[0]}' (or a previous issuer's host and path)",
                )
                continue
        if arn in arns:
            r.fail(item_path, f"repeats {arn!r}")
            continue
        arns.append(arn)
    if isinstance(issuer, IssuerLookup) and len(arns) > 1:
        r.fail(path, "can name only one provider, the current one, when the issuer is looked up")
    return tuple(arns)


def _read_cluster(
    r: _Reader, value: object, path: str, index: int, aws_region: str | None
) -> ClusterConfig | None:
    m = r.mapping(
        value,
        path,
        required=("name", "type", "issuer"),
        optional=(
            "jwks",
            "previousIssuers",
            "kubernetes",
            "awsOidcProviderArn",
            "gcpJwks",
            "formerNames",
        ),
    )
    if m is None:
        return None
    name = (
        r.string(m.get("name"), f"{path}.name", pattern=NAME_PATTERN, rule=NAME_RULE)
        if "name" in m
        else None
    )
    ctype = r.string(m.get("type"), f"{path}.type", choices=CLUSTER_TYPES) if "type" in m else None
    cluster_type = cast("ClusterType | None", ctype)
    issuer = _read_issuer(r, m["issuer"], f"{path}.issuer", cluster_type) if "issuer" in m else None
    jwks = (
        _read_jwks(r, m["jwks"], f"{path}.jwks", cluster_type)
        if m.get("jwks") is not None
        else None
    )
    if isinstance(issuer, IssuerHost) and jwks is None:
        r.fail(
            f"{path}.jwks",
            "is required when the issuer is hosted: the bucket must publish the cluster's public "
            "keys",
        )
    previous: list[str] = []
    previous_hosts: list[tuple[str, IssuerHost]] = []
    if m.get("previousIssuers") is not None:
        for i, item in enumerate(
            r.items(m["previousIssuers"], f"{path}.previousIssuers", non_empty=False)
        ):
            ipath = f"{path}.previousIssuers[{i}]"
            if isinstance(item, Mapping):
                # A retired issuer that fluxtrust published: its bucket keeps publishing the
                # documents while the clouds still trust it, so tokens it signed still verify.
                old_host = _read_previous_host(r, item, ipath, cluster_type)
                if old_host is None:
                    continue
                url = host_url(old_host, aws_region)
                if url is None:
                    r.fail(f"{ipath}.host", "is in S3, which needs fluxtrust:aws.region to be set")
                    continue
                if old_host == issuer or url in previous:
                    r.fail(ipath, "repeats an issuer the cluster already has")
                    continue
                previous_hosts.append((url, old_host))
                previous.append(url)
                continue
            url = r.string(item, ipath)
            if url is None:
                continue
            if (problem := validate_issuer_url(url)) is not None:
                r.fail(ipath, f"is {url!r}; {problem}")
            elif url in previous:
                r.fail(ipath, f"repeats {url!r}")
            elif isinstance(issuer, IssuerUrl) and url == issuer.url:
                r.fail(ipath, "is the cluster's current issuer; list only issuers being retired")
            else:
                previous.append(url)
    arns = _read_provider_arns(
        r, m.get("awsOidcProviderArn"), f"{path}.awsOidcProviderArn", issuer, previous
    )
    gcp_jwks: str | None = r.optional_string(m, "gcpJwks", path, choices=("upload", "discover"))
    if gcp_jwks == "upload" and jwks is None:
        r.fail(f"{path}.gcpJwks", "is upload, which needs the cluster's keys: set jwks")
    if gcp_jwks is None:
        # Uploading the keys makes GCP independent of the issuer being reachable, and every
        # copy is updated in the same `pulumi up` as the bucket, so it is the safer default
        # whenever the keys are known.
        gcp_jwks = "upload" if jwks is not None else "discover"
    if name is None or cluster_type is None or issuer is None:
        return None
    return ClusterConfig(
        name=name,
        type=cluster_type,
        issuer=issuer,
        jwks=jwks,
        previous_issuers=tuple(previous),
        kubernetes=_read_kubernetes(r, m["kubernetes"], f"{path}.kubernetes")
        if m.get("kubernetes") is not None
        else None,
        aws_oidc_provider_arns=arns,
        gcp_jwks=cast("GcpJwksMode", gcp_jwks),
        former_names=_read_former_names(r, m.get("formerNames"), f"{path}.formerNames", name),
        previous_hosts=tuple(previous_hosts),
        index=index,
    )


def _read_previous_host(
    r: _Reader, value: Mapping[str, object], path: str, cluster_type: ClusterType | None
) -> IssuerHost | None:
    m = r.mapping(value, path, required=("host",))
    if m is None or "host" not in m:
        return None
    return _read_host(r, m["host"], f"{path}.host", cluster_type)


# --------------------------------------------------------------------------------------------
# Identities


def _read_service_account(r: _Reader, value: object, path: str) -> ServiceAccountRef | None:
    text = r.string(value, path)
    if text is None:
        return None
    namespace, sep, name = text.partition("/")
    if not sep or "/" in name:
        r.fail(path, f"is {text!r}; must be namespace/name, e.g. flux-system/source-controller")
        return None
    ok = True
    if not DNS_LABEL.match(namespace):
        r.fail(
            path,
            f"namespace {namespace!r} must be a DNS label: 1 to 63 characters of a-z, 0-9 and "
            "'-', starting and ending with a letter or digit",
        )
        ok = False
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        r.fail(
            path,
            f"name {name!r} must be a DNS subdomain: up to 253 characters of a-z, 0-9, '-' and "
            "'.', each part starting and ending with a letter or digit",
        )
        ok = False
    return ServiceAccountRef(namespace, name) if ok else None


def _read_aws_access(r: _Reader, value: object, path: str) -> AwsAccess | None:
    m = r.mapping(value, path, optional=("policyArns", "inlinePolicy"))
    if m is None:
        return None
    arns: list[str] = []
    if m.get("policyArns") is not None:
        for i, item in enumerate(r.items(m["policyArns"], f"{path}.policyArns", non_empty=False)):
            ipath = f"{path}.policyArns[{i}]"
            arn = r.string(item, ipath)
            if arn is None:
                continue
            if (problem := validate_aws_policy_arn(arn)) is not None:
                r.fail(ipath, f"is {arn!r}; {problem}")
            elif arn in arns:
                r.fail(ipath, f"repeats {arn!r}")
            else:
                arns.append(arn)
    inline: str | None = None
    if m.get("inlinePolicy") is not None:
        ipath = f"{path}.inlinePolicy"
        doc = m["inlinePolicy"]
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except json.JSONDecodeError:
                r.fail(ipath, "must be an IAM policy document (a mapping, or JSON text of one)")
                doc = None
        if doc is not None:
            pm = r.mapping(doc, ipath, required=("Version", "Statement"), optional=("Id",))
            if pm is not None and "Statement" in pm:
                if pm.get("Version") not in ("2012-10-17", None):
                    r.fail(f"{ipath}.Version", "must be 2012-10-17")
                statements = pm["Statement"]
                if not isinstance(statements, list | Mapping) or not statements:
                    r.fail(
                        f"{ipath}.Statement", "must be a non-empty statement or list of statements"
                    )
                else:
                    inline = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    if not arns and inline is None:
        r.fail(path, "grants nothing; give policyArns, inlinePolicy or both")
        return None
    return AwsAccess(tuple(sorted(arns)), inline)


def _is_azure_role(role: str) -> bool:
    """A built-in role name, a role definition GUID, or a role definition id."""
    try:
        # The subscription only completes the id; any GUID tells whether the role is valid.
        azure_role_definition_id(role, "00000000-0000-0000-0000-000000000000")
    except ValueError:
        return False
    return True


def _read_azure_role(r: _Reader, value: object, path: str) -> AzureRole | None:
    m = r.mapping(value, path, required=("role", "scope"))
    if m is None or "role" not in m or "scope" not in m:
        return None
    role = r.string(m["role"], f"{path}.role")
    scope = r.string(m["scope"], f"{path}.scope")
    if role is not None and not _is_azure_role(role):
        r.fail(
            f"{path}.role",
            f"is {role!r}; give a built-in role name ({', '.join(sorted(AZURE_BUILTIN_ROLES))}), "
            "a role definition GUID, or a role definition id",
        )
        role = None
    if scope is not None and (problem := validate_azure_scope(scope)) is not None:
        r.fail(f"{path}.scope", f"is {scope!r}; {problem}")
        scope = None
    if role is None or scope is None:
        return None
    return AzureRole(role, scope)


def _read_azure_access(r: _Reader, value: object, path: str) -> AzureAccess | None:
    m = r.mapping(value, path, required=("roles",))
    if m is None or "roles" not in m:
        if m is not None:
            r.problems[-1] = ConfigProblem(
                f"{path}.roles", "is required: an azure block must grant at least one role"
            )
        return None
    roles = r.each(m["roles"], f"{path}.roles", lambda v, p: _read_azure_role(r, v, p))
    if len(set(roles)) != len(roles):
        r.fail(f"{path}.roles", "assigns the same role at the same scope twice")
        return None
    return AzureAccess(tuple(roles)) if roles else None


def _read_gcp_role(r: _Reader, value: object, path: str) -> GcpRole | None:
    m = r.mapping(value, path, required=("role",))
    if m is None or "role" not in m:
        return None
    role = r.string(m["role"], f"{path}.role")
    if role is not None and (problem := validate_gcp_role(role)) is not None:
        r.fail(f"{path}.role", f"is {role!r}; {problem}")
        return None
    return GcpRole(role) if role is not None else None


def _read_gcp_access(r: _Reader, value: object, path: str) -> GcpAccess | None:
    m = r.mapping(value, path, required=("roles",), optional=("access",))
    if m is None or "roles" not in m:
        if m is not None:
            r.problems[-1] = ConfigProblem(
                f"{path}.roles", "is required: a gcp block must grant at least one role"
            )
        return None
    roles = r.each(m["roles"], f"{path}.roles", lambda v, p: _read_gcp_role(r, v, p))
    if len(set(roles)) != len(roles):
        r.fail(f"{path}.roles", "grants the same role twice")
        return None
    access = r.optional_string(m, "access", path, choices=("direct", "impersonation")) or "direct"
    return GcpAccess(tuple(roles), cast("GcpAccessMode", access)) if roles else None


def _read_identity(r: _Reader, value: object, path: str, index: int) -> IdentityConfig | None:
    m = r.mapping(
        value,
        path,
        required=("name", "level", "clusters", "serviceAccount"),
        optional=("aws", "azure", "gcp", "formerNames"),
    )
    if m is None:
        return None
    name = (
        r.string(m["name"], f"{path}.name", pattern=NAME_PATTERN, rule=NAME_RULE)
        if "name" in m
        else None
    )
    level = r.string(m["level"], f"{path}.level", choices=LEVELS) if "level" in m else None
    clusters: list[str] = []
    if "clusters" in m:
        for i, item in enumerate(r.items(m["clusters"], f"{path}.clusters")):
            cname = r.string(item, f"{path}.clusters[{i}]")
            if cname is not None and cname in clusters:
                r.fail(f"{path}.clusters[{i}]", f"repeats {cname!r}")
            elif cname is not None:
                clusters.append(cname)
    sa = (
        _read_service_account(r, m["serviceAccount"], f"{path}.serviceAccount")
        if "serviceAccount" in m
        else None
    )
    if level == "controller" and sa is not None and sa.name not in FLUX_CONTROLLERS:
        r.fail(
            f"{path}.serviceAccount",
            f"is {sa}; a controller-level identity is a Flux controller's own ServiceAccount "
            f"({', '.join(FLUX_CONTROLLERS)}); use level object for a tenant ServiceAccount",
        )
        sa = None
    aws = _read_aws_access(r, m["aws"], f"{path}.aws") if m.get("aws") is not None else None
    azure = (
        _read_azure_access(r, m["azure"], f"{path}.azure") if m.get("azure") is not None else None
    )
    gcp = _read_gcp_access(r, m["gcp"], f"{path}.gcp") if m.get("gcp") is not None else None
    if not any(m.get(c) is not None for c in CLOUDS):
        r.fail(path, "reaches no cloud; give at least one of aws, azure, gcp")
    if name is None or level is None or sa is None or not clusters:
        return None
    if any(m.get(c) is not None for c in CLOUDS) and aws is None and azure is None and gcp is None:
        return None
    return IdentityConfig(
        name=name,
        level=cast("Level", level),
        clusters=tuple(clusters),
        service_account=sa,
        aws=aws,
        azure=azure,
        gcp=gcp,
        former_names=_read_former_names(r, m.get("formerNames"), f"{path}.formerNames", name),
        index=index,
    )


# --------------------------------------------------------------------------------------------
# Rules that span several entries


def _check_naming(r: _Reader, key: str, entries: Sequence[tuple[int, str, str]]) -> None:
    """An entry's resources are named after its first name: two entries must not share one."""
    current = {name for _, name, _ in entries}
    seen: dict[str, str] = {}
    for index, name, naming in entries:
        if naming != name and naming in current:
            r.fail(
                f"{_key(key)}[{index}].formerNames[0]",
                f"is {naming!r}, the name of another entry; its resources would collide",
            )
        elif naming in seen and seen[naming] != name:
            r.fail(
                f"{_key(key)}[{index}].formerNames[0]",
                f"is {naming!r}, a former name of {seen[naming]!r} too",
            )
        seen.setdefault(naming, name)


def _check_graph(
    r: _Reader,
    clusters: Sequence[ClusterConfig],
    identities: Sequence[IdentityConfig],
    settings: Mapping[CloudName, object | None],
) -> None:
    _check_naming(r, "clusters", [(c.index, c.name, c.naming) for c in clusters])
    _check_naming(r, "identities", [(i.index, i.name, i.naming) for i in identities])
    by_name: dict[str, ClusterConfig] = {}
    for c in clusters:
        if c.name in by_name:
            r.fail(
                f"{_key('clusters')}[{c.index}].name",
                f"repeats {c.name!r}; cluster names must be unique",
            )
        by_name[c.name] = c

    # Two clusters must never share an issuer: their tokens would be indistinguishable, so a
    # trust meant for one would admit the other's workloads.
    seen_issuers: dict[str, str] = {}
    for c in clusters:
        urls = (
            [(f"{_key('clusters')}[{c.index}].issuer.url", c.issuer.url)]
            if isinstance(c.issuer, IssuerUrl)
            else []
        )
        urls += [
            (f"{_key('clusters')}[{c.index}].previousIssuers[{i}]", u)
            for i, u in enumerate(c.previous_issuers)
        ]
        for path, url in urls:
            if url in seen_issuers and seen_issuers[url] != c.name:
                r.fail(
                    path,
                    f"{url!r} is also an issuer of cluster {seen_issuers[url]!r}; each issuer "
                    "belongs to one cluster",
                )
            seen_issuers.setdefault(url, c.name)

    hosted_buckets: dict[tuple[str, str], str] = {}
    for c in clusters:
        hosts: list[tuple[str, IssuerHost]] = []
        if isinstance(c.issuer, IssuerHost):
            hosts.append((f"{_key('clusters')}[{c.index}].issuer.host", c.issuer))
        hosts += [
            (f"{_key('clusters')}[{c.index}].previousIssuers.host ({url})", host)
            for url, host in c.previous_hosts
        ]
        for host_path, host in hosts:
            where = (host.cloud, host.bucket or f"{host.storage_account}/{host.container}")
            if where in hosted_buckets:
                r.fail(
                    host_path,
                    f"uses the same bucket as cluster {hosted_buckets[where]!r}; each hosted "
                    "issuer needs its own",
                )
            hosted_buckets[where] = c.name
            if settings[host.cloud] is None:
                r.fail(
                    f"{host_path}.cloud",
                    f"is {host.cloud}, which needs {_key(host.cloud)} to be set",
                )
        if c.previous_hosts and c.jwks is None:
            r.fail(
                f"{_key('clusters')}[{c.index}].jwks",
                "is required while a retired issuer is still published: its bucket must keep "
                "publishing the cluster's public keys",
            )
        if isinstance(c.issuer, IssuerLookup):
            needed = MANAGED_CLOUD[c.type]
            if (
                needed is not None
                and settings[needed] is None
                and not (c.type == "gke" and c.issuer.project)
            ):
                r.fail(
                    f"{_key('clusters')}[{c.index}].issuer.lookup",
                    f"looks the {c.type} cluster up in {needed}, which needs {_key(needed)} to be "
                    "set",
                )
        aws_settings = settings["aws"]
        for reused in c.aws_oidc_provider_arns:
            account = aws_settings.account_id if isinstance(aws_settings, AwsSettings) else None
            arn_account = AWS_OIDC_PROVIDER_ARN_RE.fullmatch(reused)
            if account and arn_account and arn_account.group("account") != account:
                r.fail(
                    f"{_key('clusters')}[{c.index}].awsOidcProviderArn",
                    f"{reused!r} is in account {arn_account.group('account')}, not in "
                    f"{_key('aws')}.accountId {account}",
                )

    names: dict[str, int] = {}
    # (cluster, serviceAccount, cloud) -> identity: one ServiceAccount carries one set of
    # annotations per cloud, so two identities cannot both claim it for the same cloud.
    claimed: dict[tuple[str, ServiceAccountRef, CloudName], str] = {}
    gcp_accounts: dict[ServiceAccountRef, str] = {}
    for ident in identities:
        base = f"{_key('identities')}[{ident.index}]"
        if ident.name in names:
            r.fail(f"{base}.name", f"repeats {ident.name!r}; identity names must be unique")
        names[ident.name] = ident.index
        for i, cname in enumerate(ident.clusters):
            if cname not in by_name:
                known = ", ".join(sorted(by_name)) or "none declared"
                r.fail(f"{base}.clusters[{i}]", f"names no cluster: {cname!r}; clusters: {known}")
        for cloud in ident.clouds:
            if settings[cloud] is None:
                r.fail(f"{base}.{cloud}", f"needs {_key(cloud)} to be set")
            for cname in ident.clusters:
                key = (cname, ident.service_account, cloud)
                if key in claimed:
                    r.fail(
                        f"{base}.serviceAccount",
                        f"{ident.service_account} on cluster {cname!r} is already given {cloud} "
                        f"access by identity {claimed[key]!r}; one ServiceAccount maps to one "
                        "identity per cloud: merge the two, or use another ServiceAccount",
                    )
                else:
                    claimed[key] = ident.name
        if ident.gcp is not None:
            # In a GCP pool the principal is the ServiceAccount's subject alone, the same from
            # every cluster, so two identities sharing a ServiceAccount would share their roles.
            other = gcp_accounts.setdefault(ident.service_account, ident.name)
            if other != ident.name:
                r.fail(
                    f"{base}.serviceAccount",
                    f"{ident.service_account} already reaches gcp as identity {other!r}; GCP "
                    "names a federated workload by its ServiceAccount alone, whatever the "
                    "cluster, so the two would share their roles: merge them, or use another "
                    "ServiceAccount",
                )
        if ident.azure is not None:
            credentials = sum(
                1 + len(by_name[c].previous_issuers) for c in ident.clusters if c in by_name
            )
            if credentials > AZURE_MAX_FEDERATED_CREDENTIALS:
                r.fail(
                    f"{base}.clusters",
                    f"needs {credentials} federated credentials on one managed identity; Azure "
                    f"allows {AZURE_MAX_FEDERATED_CREDENTIALS}: split the identity",
                )


# --------------------------------------------------------------------------------------------
# Entry points


def parse_stack_config(raw: Mapping[str, object]) -> StackConfig:
    """Parses and validates the `fluxtrust:*` configuration.

    Args:
        raw: the configuration values keyed without the namespace (``aws``, ``clusters``, ...),
            as plain JSON-like values.

    Raises:
        ConfigError: listing every problem found, each with its key path.
    """
    r = _Reader()
    known = ("aws", "azure", "gcp", "clusters", "identities")
    for key in raw:
        if key not in known:
            r.fail(_key(key), f"unknown key; fluxtrust reads {', '.join(_key(k) for k in known)}")
    aws = _read_aws(r, raw["aws"]) if raw.get("aws") is not None else None
    azure = _read_azure(r, raw["azure"]) if raw.get("azure") is not None else None
    gcp = _read_gcp(r, raw["gcp"]) if raw.get("gcp") is not None else None
    clusters: list[ClusterConfig] = []
    if raw.get("clusters") is None:
        r.fail(_key("clusters"), "is required: declare at least one source cluster")
    else:
        for i, item in enumerate(r.items(raw["clusters"], _key("clusters"))):
            cluster = _read_cluster(
                r, item, f"{_key('clusters')}[{i}]", i, aws.region if aws else None
            )
            if cluster is not None:
                clusters.append(cluster)
    identities: list[IdentityConfig] = []
    if raw.get("identities") is not None:
        for i, item in enumerate(r.items(raw["identities"], _key("identities"), non_empty=False)):
            identity = _read_identity(r, item, f"{_key('identities')}[{i}]", i)
            if identity is not None:
                identities.append(identity)
    # A top-level block that was given but invalid must not read as "not configured" below.
    settings: dict[CloudName, object | None] = {
        "aws": aws if raw.get("aws") is None else (aws or "invalid"),
        "azure": azure if raw.get("azure") is None else (azure or "invalid"),
        "gcp": gcp if raw.get("gcp") is None else (gcp or "invalid"),
    }
    _check_graph(r, clusters, identities, settings)
    if r.problems:
        raise ConfigError(sorted(set(r.problems), key=_problem_order(r.problems)))
    return StackConfig(
        clusters=tuple(clusters),
        identities=tuple(identities),
        aws=aws,
        azure=azure,
        gcp=gcp,
    )


def _problem_order(problems: Sequence[ConfigProblem]) -> Callable[[ConfigProblem], int]:
    """Keeps problems in the order they were found (the order of the file), without repeats."""
    first = {p: i for i, p in reversed(list(enumerate(problems)))}
    return lambda p: first[p]


def load_stack_file(path: Path) -> dict[str, object]:
    """Reads `Pulumi.<stack>.yaml` and returns its `fluxtrust:*` values, keyed without namespace.

    Raises:
        ConfigError: when the file is missing, is not YAML, or has no `config:` mapping.
    """
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            [ConfigProblem(label, f"cannot be read: {err.strerror or err}")]
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError([ConfigProblem(label, f"is not valid YAML: {err}")]) from None
    if not isinstance(document, Mapping) or not isinstance(document.get("config"), Mapping):
        raise ConfigError(
            [ConfigProblem(label, "must be a Pulumi stack file with a config: mapping")]
        )
    values: dict[str, object] = {}
    for key, value in document["config"].items():
        namespace, sep, name = str(key).partition(":")
        if sep and namespace == CONFIG_NAMESPACE:
            if isinstance(value, Mapping) and set(value) == {"secure"}:
                raise ConfigError(
                    [
                        ConfigProblem(
                            str(key),
                            "is an encrypted secret; fluxtrust's settings are not secret, store "
                            "them in plain text",
                        )
                    ]
                )
            values[name] = value
    return values
