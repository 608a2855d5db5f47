"""Pure builders for the cloud side of secret-less trust with Flux clusters.

Everything here takes plain strings and returns plain dicts or strings, so the Pulumi components
can call it inside ``Output.all(...).apply(...)`` and the rules can be tested on their own.
Nothing here declares a resource.

Every trust built here pins the issuer, the audience and the exact Kubernetes ServiceAccount
subject: no wildcard, no pattern match, nothing that trusts a whole issuer.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import pulumi

__all__ = [
    "AWS_AUDIENCE",
    "AWS_OIDC_PROVIDERS_PER_ACCOUNT",
    "AWS_OIDC_PROVIDER_ARN_RE",
    "AWS_TRUST_POLICY_MAX_CHARS",
    "AZURE_AUDIENCE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_BUILTIN_ROLES",
    "AZURE_MAX_FEDERATED_CREDENTIALS",
    "GCP_ATTRIBUTE_CONDITION_MAX_CHARS",
    "GCP_ID_MAX_CHARS",
    "GCP_ID_MIN_CHARS",
    "AwsFederation",
    "TrustLimitError",
    "aws_oidc_provider_arn",
    "aws_policy_size",
    "aws_role_trust_policy",
    "azure_federated_credential_name",
    "azure_role_assignment_name",
    "azure_role_definition_id",
    "canonical_json",
    "check_aws_oidc_provider_count",
    "check_aws_trust_policy_size",
    "check_azure_federated_credential_count",
    "gcp_attribute_condition",
    "gcp_attribute_mapping",
    "gcp_gke_workload_identity_member",
    "gcp_gke_workload_identity_principal",
    "gcp_pool_id",
    "gcp_principal",
    "gcp_provider_audience",
    "gcp_provider_id",
    "gcp_workload_identity_provider_name",
    "gke_workload_identity_audience",
    "issuer_host_path",
    "service_account_subject",
    "validate_aws_policy_arn",
    "validate_azure_scope",
    "validate_gcp_id",
    "validate_gcp_role",
    "validate_issuer_url",
    "validate_service_account_subject",
]

# Audiences Flux requests for the ServiceAccount token it exchanges with each cloud.
AWS_AUDIENCE = "sts.amazonaws.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"
# Microsoft Entra ID authority of the public cloud, as the Azure SDK inside Flux expects it.
AZURE_AUTHORITY_HOST = "https://login.microsoftonline.com/"

# IAM caps a role's trust policy at 2,048 characters by default, whitespace not counted
# (error `LimitExceeded ... ACLSizePerRole`); the quota can be raised to 4,096 on request.
AWS_TRUST_POLICY_MAX_CHARS = 2048
# Entra ID accepts at most 20 federated identity credentials on one user-assigned identity.
AZURE_MAX_FEDERATED_CREDENTIALS = 20
# GCP refuses a workload identity provider whose attributeCondition exceeds 4,096 characters.
GCP_ATTRIBUTE_CONDITION_MAX_CHARS = 4096
# IAM allows 100 OIDC identity providers per AWS account by default.
AWS_OIDC_PROVIDERS_PER_ACCOUNT = 100
# Workload identity pool and provider ids are 4 to 32 characters long.
GCP_ID_MIN_CHARS = 4
GCP_ID_MAX_CHARS = 32

_HTTPS = "https://"
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID_RE = re.compile(_GUID)
# Namespaces are DNS-1123 labels, ServiceAccount names DNS-1123 subdomains: neither can hold a
# quote, a backslash, a space or a wildcard, which is what lets subjects go into CEL and JSON.
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*"
_SUBJECT_RE = re.compile(rf"system:serviceaccount:(?P<ns>{_DNS_LABEL}):(?P<name>{_DNS_SUBDOMAIN})")
_SUBDOMAIN_MAX_CHARS = 253
_AWS_ACCOUNT_RE = re.compile(r"\d{12}")
_AWS_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_AWS_OIDC_PROVIDER_URL_MAX_CHARS = 255
# Matched whole (fullmatch); the account and the issuer's host and path are named groups.
AWS_OIDC_PROVIDER_ARN_RE = re.compile(
    r"arn:(?:aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):oidc-provider/(?P<host_path>\S+)"
)
_AWS_POLICY_ARN_RE = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:iam::(?:aws|\d{12}):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}"
)
_GCP_ID_RE = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")
_GCP_PROJECT_NUMBER_RE = re.compile(r"[1-9][0-9]{0,29}")
_GCP_PROJECT_ID_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_GCP_ROLE_RES = (
    re.compile(r"roles/[A-Za-z0-9_.]{1,128}"),
    re.compile(rf"projects/{_GCP_PROJECT_ID_RE.pattern}/roles/[A-Za-z0-9_.]{{3,64}}"),
    re.compile(r"organizations/[0-9]{1,30}/roles/[A-Za-z0-9_.]{3,64}"),
)
_AZURE_ROLE_DEFINITION_ID_RE = re.compile(
    rf"(?:/subscriptions/{_GUID})?/providers/Microsoft\.Authorization/roleDefinitions/"
    rf"(?P<guid>{_GUID})",
    re.IGNORECASE,
)
_AZURE_SUBSCRIPTION_SCOPE_RE = re.compile(rf"/subscriptions/{_GUID}(?:/.*)?", re.IGNORECASE)
# Management group ids: up to 90 letters, digits, hyphens, underscores, periods and parentheses.
_AZURE_MANAGEMENT_GROUP_SCOPE_RE = re.compile(
    r"/providers/Microsoft\.Management/managementGroups/[\w().-]{1,90}", re.IGNORECASE
)
# Federated identity credential names: 3 to 120 characters of letters, digits, '-' and '_',
# the first one a letter or digit. Two parts of 54, two dashes and a 10-digit hash make 120.
_AZURE_FIC_PART_MAX_CHARS = 54

# Fixed namespace for role assignment names. Changing it renames, hence replaces, every role
# assignment ever declared, so it must never change.
_ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("9699bf44-c432-4eea-a64d-0d33a9d19653")

# Role definition ids of Azure built-in roles: the same GUID in every tenant and subscription.
AZURE_BUILTIN_ROLES: Mapping[str, str] = MappingProxyType(
    {
        "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
        "Azure Event Hubs Data Sender": "2b629674-e913-4c01-ae53-ef4638d8f975",
        "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
        "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
        "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
        "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    }
)


class TrustLimitError(pulumi.RunError):
    """A trust graph exceeds a cloud's limit; the message names what to split or change."""


def _short_hash(*parts: str, length: int) -> str:
    """Return the first ``length`` hex digits of SHA-256 over ``parts``, unambiguously joined.

    Names derived from it become resource names: changing this function replaces resources.
    """
    digest = hashlib.sha256(json.dumps(list(parts)).encode("utf-8")).hexdigest()
    return digest[:length]


def validate_service_account_subject(subject: str) -> str | None:
    """Return why ``subject`` is not a Kubernetes ServiceAccount token subject, or None.

    A subject is ``system:serviceaccount:<namespace>:<name>`` with a DNS-1123 label as the
    namespace and a DNS-1123 subdomain as the name. The problem is phrased to follow the value,
    e.g. ``f"subject {subject!r} {problem}"``.
    """
    if any(char in subject for char in "'\"\\"):
        return "must not contain a quote or a backslash (Kubernetes names never do)"
    match = _SUBJECT_RE.fullmatch(subject)
    if match is None or len(match.group("name")) > _SUBDOMAIN_MAX_CHARS:
        return (
            "must be system:serviceaccount:<namespace>:<name> with a Kubernetes namespace and "
            "ServiceAccount name (lowercase letters, digits, '-' and, in the name, '.')"
        )
    return None


def _require_subject(subject: str) -> str:
    """Return ``subject`` if it is a ServiceAccount subject, else raise ValueError."""
    problem = validate_service_account_subject(subject)
    if problem is not None:
        msg = f"subject {subject!r} {problem}"
        raise ValueError(msg)
    return subject


def service_account_subject(namespace: str, name: str) -> str:
    """Return the token subject of ServiceAccount ``namespace/name``.

    Raises:
        ValueError: if ``namespace`` or ``name`` is not a valid Kubernetes name.
    """
    return _require_subject(f"system:serviceaccount:{namespace}:{name}")


def validate_issuer_url(issuer_url: str) -> str | None:
    """Return why ``issuer_url`` cannot be an OIDC issuer the clouds trust, or None.

    The clouds fetch ``<issuer>/.well-known/openid-configuration`` over TLS, so the issuer must
    be an https URL with a host and without query, fragment, user info or whitespace. A trailing
    slash is kept as given: AKS issuers end with one, and dropping it would make another issuer.
    The problem is phrased to follow the value.
    """
    if any(char.isspace() for char in issuer_url):
        return "must not contain whitespace"
    if not issuer_url.startswith(_HTTPS):
        return f"must start with {_HTTPS} (clouds fetch the discovery document over TLS only)"
    parts = urlsplit(issuer_url)
    if not parts.hostname:
        return f"must name a host after {_HTTPS}"
    if "@" in parts.netloc:
        return "must not carry user info"
    # An issuer is a plain https URL with a path at most; each message names both parts.
    if parts.query or "?" in issuer_url:
        return "must not have a query or a fragment (an issuer is an https URL with a path at most)"
    if parts.fragment or "#" in issuer_url:
        return "must not have a fragment or a query (an issuer is an https URL with a path at most)"
    return None


def issuer_host_path(issuer_url: str) -> str:
    """Return the issuer without ``https://``, as IAM names the provider and its condition keys.

    The rest is kept byte for byte: a trailing slash makes a different issuer.

    Raises:
        ValueError: if ``issuer_url`` is not an https URL (see :func:`validate_issuer_url`).
    """
    problem = validate_issuer_url(issuer_url)
    if problem is not None:
        msg = f"issuer {issuer_url!r} {problem}"
        raise ValueError(msg)
    return issuer_url[len(_HTTPS) :]


# --- AWS -------------------------------------------------------------------------------------


def aws_oidc_provider_arn(account_id: str, issuer_url: str, *, partition: str = "aws") -> str:
    """Return the ARN IAM gives the OIDC identity provider of ``issuer_url`` in ``account_id``.

    Raises:
        ValueError: if the account id is not 12 digits, the partition unknown or the issuer bad.
    """
    if _AWS_ACCOUNT_RE.fullmatch(account_id) is None:
        msg = f"AWS account id {account_id!r} must be 12 digits"
        raise ValueError(msg)
    # IAM refuses a provider URL longer than 255 characters.
    if len(issuer_url) > _AWS_OIDC_PROVIDER_URL_MAX_CHARS:
        msg = (
            f"issuer {issuer_url!r} is {len(issuer_url)} characters; IAM accepts at most "
            f"{_AWS_OIDC_PROVIDER_URL_MAX_CHARS} for an OIDC provider URL"
        )
        raise ValueError(msg)
    if partition not in _AWS_PARTITIONS:
        msg = f"AWS partition {partition!r} is not one of {', '.join(_AWS_PARTITIONS)}"
        raise ValueError(msg)
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{issuer_host_path(issuer_url)}"


@dataclass(frozen=True)
class AwsFederation:
    """Subjects of one issuer that may assume a role through that issuer's IAM OIDC provider.

    Attributes:
        provider_arn: ARN of the IAM OIDC provider; must name the same issuer as ``issuer_url``.
        issuer_url: the cluster's service-account issuer URL.
        subjects: ServiceAccount subjects allowed; stored sorted and deduplicated.
    """

    provider_arn: str
    issuer_url: str
    subjects: tuple[str, ...]

    def __post_init__(self) -> None:
        """Check the provider matches the issuer and every subject is exact; sort subjects."""
        host_path = issuer_host_path(self.issuer_url)
        match = AWS_OIDC_PROVIDER_ARN_RE.fullmatch(self.provider_arn)
        if match is None:
            msg = (
                f"{self.provider_arn!r} is not an IAM OIDC provider ARN "
                "(arn:aws:iam::<account>:oidc-provider/<issuer without https://>)"
            )
            raise ValueError(msg)
        # A reused provider that names another issuer would make the trust silently useless.
        if match.group("host_path") != host_path:
            msg = (
                f"IAM OIDC provider {self.provider_arn!r} is not the provider of issuer "
                f"{self.issuer_url!r} (expected it to end with oidc-provider/{host_path})"
            )
            raise ValueError(msg)
        if not self.subjects:
            msg = f"no subject given for issuer {self.issuer_url!r}: a role must not trust nobody"
            raise ValueError(msg)
        for subject in self.subjects:
            _require_subject(subject)
        object.__setattr__(self, "subjects", tuple(sorted(set(self.subjects))))


def aws_role_trust_policy(statements: Sequence[AwsFederation]) -> dict[str, Any]:
    """Return the trust policy of a role assumable by the given issuers' subjects.

    One statement per OIDC provider (federations naming the same provider are merged), sorted
    by provider ARN, each allowing ``sts:AssumeRoleWithWebIdentity`` under ``StringEquals`` on
    both ``<issuer>:aud`` and ``<issuer>:sub``. No Sid: it is optional in IAM, and every
    character counts toward the 2,048-character trust policy limit. Render it with
    :func:`canonical_json`.

    Raises:
        ValueError: if ``statements`` is empty.
    """
    if not statements:
        msg = "a role trust policy needs at least one federation"
        raise ValueError(msg)
    merged: dict[str, AwsFederation] = {}
    for federation in statements:
        previous = merged.get(federation.provider_arn)
        # Same ARN means same issuer (checked by AwsFederation), so subjects simply add up.
        merged[federation.provider_arn] = AwsFederation(
            provider_arn=federation.provider_arn,
            issuer_url=federation.issuer_url,
            subjects=(previous.subjects if previous else ()) + federation.subjects,
        )

    policy_statements: list[dict[str, Any]] = []
    for provider_arn in sorted(merged):
        federation = merged[provider_arn]
        host_path = issuer_host_path(federation.issuer_url)
        subjects = federation.subjects
        policy_statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host_path}:aud": AWS_AUDIENCE,
                        f"{host_path}:sub": subjects[0] if len(subjects) == 1 else list(subjects),
                    }
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": policy_statements}


def canonical_json(obj: Any) -> str:
    """Return ``obj`` as JSON with sorted keys and no optional whitespace.

    Policies rendered this way are byte-identical from one run to the next, so a preview
    shows no diff when nothing changed.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def aws_policy_size(policy: Mapping[str, Any]) -> int:
    """Return the size of ``policy`` as IAM counts it: characters other than whitespace."""
    return sum(1 for char in canonical_json(policy) if not char.isspace())


def check_aws_trust_policy_size(
    policy: Mapping[str, Any],
    *,
    role_label: str,
    limit: int = AWS_TRUST_POLICY_MAX_CHARS,
) -> int:
    """Return the size of a role trust policy, or raise if IAM would refuse it.

    Args:
        policy: the trust policy.
        role_label: the identity or role the policy belongs to, named in the error.
        limit: the account's quota, if it was raised above the default.

    Raises:
        TrustLimitError: if the policy is longer than ``limit`` characters.
    """
    size = aws_policy_size(policy)
    if size > limit:
        msg = (
            f"the trust policy of AWS role {role_label!r} would be {size} characters "
            f"(whitespace not counted), above IAM's limit of {limit} (ACLSizePerRole): "
            "split the identity into several identities with fewer clusters or ServiceAccounts "
            "each, or have the account's 'Role trust policy length' quota raised (up to 4096) "
            "and set fluxtrust:aws.trustPolicyMaxChars to it"
        )
        raise TrustLimitError(msg)
    return size


def check_aws_oidc_provider_count(
    count: int, *, account_label: str, limit: int = AWS_OIDC_PROVIDERS_PER_ACCOUNT
) -> None:
    """Raise if one AWS account would need more OIDC providers than IAM allows.

    Raises:
        TrustLimitError: if ``count`` is above ``limit``.
    """
    if count > limit:
        msg = (
            f"AWS account {account_label!r} would need {count} IAM OIDC providers (one per "
            f"issuer), above the quota of {limit}: request a quota increase or spread the "
            "clusters over several accounts"
        )
        raise TrustLimitError(msg)


def validate_aws_policy_arn(arn: str) -> str | None:
    """Return why ``arn`` is not an IAM managed policy ARN, or None (phrased to follow it)."""
    if _AWS_POLICY_ARN_RE.fullmatch(arn) is None:
        return (
            "must be an IAM policy ARN: arn:aws:iam::aws:policy/<name> (AWS managed) or "
            "arn:aws:iam::<12-digit account>:policy/<path/name>, in partition aws, aws-cn or "
            "aws-us-gov"
        )
    return None


# --- GCP -------------------------------------------------------------------------------------


def validate_gcp_id(value: str) -> str | None:
    """Return why ``value`` is not a valid workload identity pool or provider id, or None.

    The problem is phrased to follow the value, e.g. ``f"pool {value!r} {problem}"``.
    """
    if not GCP_ID_MIN_CHARS <= len(value) <= GCP_ID_MAX_CHARS:
        return (
            f"must be {GCP_ID_MIN_CHARS} to {GCP_ID_MAX_CHARS} characters long "
            f"(it has {len(value)})"
        )
    if _GCP_ID_RE.fullmatch(value) is None:
        return (
            "must use only lowercase letters, digits and '-', start with a letter and end with "
            "a letter or a digit"
        )
    if value.startswith("gcp-"):
        return "must not start with 'gcp-', a prefix GCP reserves"
    return None


def _require_gcp_id(value: str) -> str:
    """Return ``value`` if it is a valid GCP pool or provider id, else raise ValueError."""
    problem = validate_gcp_id(value)
    if problem is not None:
        msg = f"GCP id {value!r} {problem}"
        raise ValueError(msg)
    return value


def _require_project_number(project_number: str) -> str:
    """Return ``project_number`` if it is all digits, else raise ValueError."""
    if _GCP_PROJECT_NUMBER_RE.fullmatch(project_number) is None:
        msg = f"GCP project number {project_number!r} must be digits (not the project id)"
        raise ValueError(msg)
    return project_number


def _require_project_id(project_id: str) -> str:
    """Return ``project_id`` if it is a GCP project id, else raise ValueError."""
    if _GCP_PROJECT_ID_RE.fullmatch(project_id) is None:
        msg = (
            f"GCP project id {project_id!r} must be 6 to 30 lowercase letters, digits or '-', "
            "starting with a letter"
        )
        raise ValueError(msg)
    return project_id


def gcp_pool_id(pool: str) -> str:
    """Return ``pool`` if it is a valid workload identity pool id.

    Raises:
        ValueError: naming the rule the id breaks.
    """
    return _require_gcp_id(pool)


def gcp_provider_id(cluster_name: str, issuer_url: str) -> str:
    """Return the workload identity provider id for one issuer of a cluster.

    The id is the cluster name (made valid, shortened) plus a hash of the issuer URL. A new
    issuer therefore gets a new provider: GCP forbids reusing a deleted id for 30 days, and a
    cluster migrating between two issuers needs a provider for each.
    """
    issuer_host_path(issuer_url)
    digest = _short_hash(issuer_url, length=8)
    room = GCP_ID_MAX_CHARS - len(digest) - 1
    prefix = re.sub(r"[^a-z0-9]+", "-", cluster_name.lower())
    prefix = prefix.lstrip("-0123456789") or "cluster"
    # 'gcp-' is reserved, and the id would start with it if the cluster name does.
    if f"{prefix}-".startswith("gcp-"):
        prefix = f"k8s-{prefix}"
    prefix = prefix[:room].rstrip("-")
    return _require_gcp_id(f"{prefix}-{digest}")


def gcp_workload_identity_provider_name(project_number: str, pool_id: str, provider_id: str) -> str:
    """Return the resource name of a workload identity pool provider.

    Raises:
        ValueError: if the project number is not digits or an id is invalid.
    """
    return (
        f"projects/{_require_project_number(project_number)}/locations/global/"
        f"workloadIdentityPools/{_require_gcp_id(pool_id)}/providers/{_require_gcp_id(provider_id)}"
    )


def gcp_provider_audience(project_number: str, pool_id: str, provider_id: str) -> str:
    """Return the audience Flux requests for a provider: ``//iam.googleapis.com/`` + its name."""
    name = gcp_workload_identity_provider_name(project_number, pool_id, provider_id)
    return f"//iam.googleapis.com/{name}"


def gcp_principal(project_number: str, pool_id: str, subject: str) -> str:
    """Return the IAM principal of one ServiceAccount subject federated through a pool.

    Roles granted to it give direct access; ``roles/iam.workloadIdentityUser`` granted to it on a
    Google service account allows impersonation.
    """
    return (
        f"principal://iam.googleapis.com/projects/{_require_project_number(project_number)}/"
        f"locations/global/workloadIdentityPools/{_require_gcp_id(pool_id)}/subject/"
        f"{_require_subject(subject)}"
    )


def gke_workload_identity_audience(project_id: str) -> str:
    """Return the audience of GKE's built-in workload identity pool, ``<project>.svc.id.goog``."""
    return f"{_require_project_id(project_id)}.svc.id.goog"


def gcp_gke_workload_identity_member(project_id: str, namespace: str, name: str) -> str:
    """Return the IAM member of a GKE ServiceAccount in GKE's built-in workload identity pool.

    This is the member to grant ``roles/iam.workloadIdentityUser`` on a Google service account
    for impersonation from a GKE cluster of ``project_id``.
    """
    service_account_subject(namespace, name)
    return f"serviceAccount:{gke_workload_identity_audience(project_id)}[{namespace}/{name}]"


def gcp_gke_workload_identity_principal(
    project_number: str, project_id: str, namespace: str, name: str
) -> str:
    """Return the principal of a GKE ServiceAccount in GKE's built-in pool, for direct access.

    GKE's own pool names subjects ``ns/<namespace>/sa/<name>``, unlike federated pools.
    """
    service_account_subject(namespace, name)
    return (
        f"principal://iam.googleapis.com/projects/{_require_project_number(project_number)}/"
        f"locations/global/workloadIdentityPools/{gke_workload_identity_audience(project_id)}/"
        f"subject/ns/{namespace}/sa/{name}"
    )


def gcp_attribute_mapping() -> dict[str, str]:
    """Return the provider's attribute mapping: the token subject becomes ``google.subject``."""
    return {"google.subject": "assertion.sub"}


def gcp_attribute_condition(subjects: Sequence[str], *, provider_label: str | None = None) -> str:
    """Return a CEL condition admitting exactly ``subjects`` and nothing else.

    Subjects are sorted and deduplicated so the condition is stable. Each must be a Kubernetes
    ServiceAccount subject, which cannot contain a quote or a backslash, so quoting them in CEL
    single quotes is safe.

    Raises:
        ValueError: if ``subjects`` is empty (the provider would admit every token of the issuer)
            or a subject is not a ServiceAccount subject.
        TrustLimitError: if the condition exceeds GCP's 4,096-character limit.
    """
    provider = "workload identity provider" + (f" {provider_label!r}" if provider_label else "")
    if isinstance(subjects, str):
        msg = "subjects must be a sequence of subjects, not a single string"
        raise TypeError(msg)
    if not subjects:
        msg = (
            f"{provider} has no subject to admit; a provider without a condition would admit "
            "every token of the issuer"
        )
        raise ValueError(msg)
    unique = sorted({_require_subject(subject) for subject in subjects})
    if len(unique) == 1:
        condition = f"assertion.sub == '{unique[0]}'"
    else:
        condition = "assertion.sub in [" + ", ".join(f"'{s}'" for s in unique) + "]"
    if len(condition) > GCP_ATTRIBUTE_CONDITION_MAX_CHARS:
        msg = (
            f"the attribute condition of {provider} would be {len(condition)} characters "
            f"for {len(unique)} ServiceAccounts, above GCP's limit of "
            f"{GCP_ATTRIBUTE_CONDITION_MAX_CHARS}: trust fewer ServiceAccounts of this cluster "
            "in this pool, e.g. by moving some identities to a second pool"
        )
        raise TrustLimitError(msg)
    return condition


def validate_gcp_role(role: str) -> str | None:
    """Return why ``role`` is not a GCP IAM role name, or None (phrased to follow it)."""
    if any(pattern.fullmatch(role) for pattern in _GCP_ROLE_RES):
        return None
    return (
        "must be roles/<name> (predefined), projects/<project-id>/roles/<id> or "
        "organizations/<number>/roles/<id> (custom)"
    )


# --- Azure -----------------------------------------------------------------------------------


def _azure_name_part(value: str) -> str:
    """Return ``value`` reduced to the characters a federated credential name allows."""
    part = re.sub(r"[^A-Za-z0-9_-]+", "-", value)[:_AZURE_FIC_PART_MAX_CHARS]
    return part.strip("-_")


def azure_federated_credential_name(
    identity_name: str, cluster_name: str, issuer_url: str, subject: str
) -> str:
    """Return the name of the federated credential of one (issuer, subject) on an identity.

    The name reads ``<identity>-<cluster>-<hash>``; the hash covers issuer and subject, so a new
    issuer (cluster rebuilt, issuer moved) is a new credential rather than an edit in place.
    """
    issuer_host_path(issuer_url)
    _require_subject(subject)
    digest = _short_hash(issuer_url, subject, length=10)
    parts = [p for p in (_azure_name_part(identity_name), _azure_name_part(cluster_name)) if p]
    return "-".join([*parts, digest])


def check_azure_federated_credential_count(
    count: int, *, identity_label: str, limit: int = AZURE_MAX_FEDERATED_CREDENTIALS
) -> None:
    """Raise if a managed identity would need more federated credentials than Azure allows.

    Raises:
        TrustLimitError: if ``count`` is above ``limit``.
    """
    if count > limit:
        msg = (
            f"Azure identity {identity_label!r} would need {count} federated credentials (one "
            f"per issuer and ServiceAccount), above Azure's limit of {limit} per managed "
            "identity: split the identity into several identities, each trusting fewer clusters"
        )
        raise TrustLimitError(msg)


def azure_role_assignment_name(principal_key: str, role_definition_id: str, scope: str) -> str:
    """Return a deterministic GUID naming the assignment of a role to a principal at a scope.

    Azure requires role assignment names to be GUIDs; deriving it from the three inputs keeps it
    stable across runs. ARM ids are case-insensitive and a role definition may be named by its
    subscription or tenant form, so both are normalised first.
    """
    if not (principal_key and role_definition_id and scope):
        msg = "principal key, role definition id and scope must all be non-empty"
        raise ValueError(msg)
    match = _AZURE_ROLE_DEFINITION_ID_RE.fullmatch(role_definition_id)
    role = match.group("guid") if match else role_definition_id
    key = "\n".join((principal_key, role.lower(), scope.rstrip("/").lower()))
    return str(uuid.uuid5(_ROLE_ASSIGNMENT_NAMESPACE, key))


def azure_role_definition_id(role: str, subscription_id: str) -> str:
    """Return the role definition id for a built-in role name, a GUID or a full id.

    A full ``.../providers/Microsoft.Authorization/roleDefinitions/<guid>`` id is returned
    unchanged; a built-in name (case-insensitive) or a bare GUID becomes the subscription form.

    Raises:
        ValueError: if the subscription id is not a GUID or the role is an unknown name.
    """
    if _GUID_RE.fullmatch(subscription_id) is None:
        msg = f"Azure subscription id {subscription_id!r} must be a GUID"
        raise ValueError(msg)
    if _AZURE_ROLE_DEFINITION_ID_RE.fullmatch(role):
        return role
    if _GUID_RE.fullmatch(role):
        guid = role.lower()
    else:
        by_lower = {name.lower(): value for name, value in AZURE_BUILTIN_ROLES.items()}
        found = by_lower.get(role.lower())
        if found is None:
            msg = (
                f"unknown Azure role {role!r}: use one of {', '.join(sorted(AZURE_BUILTIN_ROLES))}"
                ", or give the role definition id (a GUID or "
                "/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>)"
            )
            raise ValueError(msg)
        guid = found
    return (
        f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )


def validate_azure_scope(scope: str) -> str | None:
    """Return why ``scope`` is not an Azure role assignment scope, or None.

    A scope starts with ``/subscriptions/<guid>`` (optionally followed by a resource group or
    resource path) or is ``/providers/Microsoft.Management/managementGroups/<name>``. The
    problem is phrased to follow the value.
    """
    if scope.endswith("/"):
        return "must not end with '/'"
    if "//" in scope or any(char.isspace() for char in scope):
        return "must not have an empty segment or whitespace"
    if _AZURE_SUBSCRIPTION_SCOPE_RE.fullmatch(scope) or _AZURE_MANAGEMENT_GROUP_SCOPE_RE.fullmatch(
        scope
    ):
        return None
    return (
        "must start with /subscriptions/<subscription guid> or be "
        "/providers/Microsoft.Management/managementGroups/<name>"
    )
