"""The GCP side of the trust: a workload identity pool, a provider per issuer, and the grants.

`GcpWorkloadIdentityPool` holds the pool; `GcpClusterProvider` admits the tokens of one cluster
issuer whose subject is one the stack trusts; `GcpIdentityAccess` grants an identity's roles to
the federated principals directly, or to a Google service account they may impersonate. A GKE
cluster reaching its own project uses GKE's built-in pool (`<project>.svc.id.goog`) instead of a
provider: `gcp_federated_member` names the member to grant in each case.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_gcp import iam, projects, serviceaccount

from .config import GcpAccessMode, GcpRole, ServiceAccountRef
from .trust_policy import (
    gcp_attribute_condition,
    gcp_attribute_mapping,
    gcp_gke_workload_identity_member,
    gcp_gke_workload_identity_principal,
    gcp_principal,
    validate_gcp_id,
    validate_issuer_url,
)

__all__ = [
    "GCP_SERVICE_ACCOUNT_ID_MAX_CHARS",
    "GCP_SERVICE_ACCOUNT_ID_MIN_CHARS",
    "WORKLOAD_IDENTITY_USER",
    "EmptyTrustError",
    "GcpClusterProvider",
    "GcpClusterProviderArgs",
    "GcpIdentityAccess",
    "GcpIdentityAccessArgs",
    "GcpTrustError",
    "GcpWorkloadIdentityPool",
    "GcpWorkloadIdentityPoolArgs",
    "gcp_federated_member",
    "gcp_service_account_id",
]

# Google service account ids: 6 to 30 characters, a lowercase letter first, no trailing '-'.
GCP_SERVICE_ACCOUNT_ID_MIN_CHARS = 6
GCP_SERVICE_ACCOUNT_ID_MAX_CHARS = 30
_SERVICE_ACCOUNT_ID_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_SERVICE_ACCOUNT_ID_INVALID = re.compile(r"[^a-z0-9-]+")
# The role that lets a principal obtain tokens for a Google service account.
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
_PRINCIPAL_PROJECT_RE = re.compile(r"principal://iam\.googleapis\.com/projects/(?P<number>[^/]+)/")
_HASH_CHARS = 8


class GcpTrustError(pulumi.RunError):
    """A GCP trust cannot be declared as asked; the message names the provider or identity."""


class EmptyTrustError(GcpTrustError):
    """A provider or an access would admit no subject: a provider without one admits anyone."""


def _digest(*parts: str, length: int = _HASH_CHARS) -> str:
    """A short, stable hex digest of ``parts``; it becomes part of resource names."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def gcp_service_account_id(stack: str, identity: str) -> str:
    """Return the Google service account id of an identity in a stack: ``flux-<stack>-<identity>``.

    Characters GCP refuses become ``-``. When that changed anything, or the id would exceed 30
    characters, it is cut short and ends with a hash of the untouched name, so two stacks or
    identities never share a service account.
    """
    wanted = f"flux-{stack}-{identity}"
    cleaned = _SERVICE_ACCOUNT_ID_INVALID.sub("-", wanted.lower())
    if cleaned == wanted and _SERVICE_ACCOUNT_ID_RE.fullmatch(cleaned):
        return cleaned
    suffix = _digest(wanted, length=6)
    head = cleaned[: GCP_SERVICE_ACCOUNT_ID_MAX_CHARS - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def gcp_federated_member(
    *,
    access: GcpAccessMode,
    project_id: str,
    project_number: str,
    pool_id: str,
    service_account: ServiceAccountRef,
    gke_builtin: bool = False,
) -> str:
    """Return the IAM member that stands for a Kubernetes ServiceAccount in GCP.

    Args:
        access: ``direct`` (roles bound to the member) or ``impersonation`` (the member is
            granted ``roles/iam.workloadIdentityUser`` on a Google service account).
        project_id: the GCP project (names GKE's built-in pool).
        project_number: the GCP project's number (names pools in principals).
        pool_id: the workload identity pool the cluster's provider lives in.
        service_account: the Kubernetes ServiceAccount.
        gke_builtin: the cluster is a GKE cluster of ``project_id`` using GKE's own workload
            identity, whose tokens carry the subject ``ns/<ns>/sa/<name>`` in its own pool.

    Raises:
        GcpTrustError: if a project number, id or name is not valid.
    """
    namespace, name = service_account.namespace, service_account.name
    try:
        if gke_builtin and access == "direct":
            return gcp_gke_workload_identity_principal(project_number, project_id, namespace, name)
        if gke_builtin:
            return gcp_gke_workload_identity_member(project_id, namespace, name)
        return gcp_principal(project_number, pool_id, service_account.subject)
    except ValueError as err:
        msg = f"GCP member of ServiceAccount {service_account}: {err}"
        raise GcpTrustError(msg) from None


# --------------------------------------------------------------------------------------------
# Pool


@dataclass
class GcpWorkloadIdentityPoolArgs:
    """Arguments of `GcpWorkloadIdentityPool`."""

    project: str
    """The GCP project id that holds the pool."""

    pool_id: str
    """The pool id: 4 to 32 of `[a-z0-9-]`, not starting with `gcp-`, never reused for 30 days."""

    display_name: str | None = None
    """The pool's display name (at most 32 characters)."""


class GcpWorkloadIdentityPool(pulumi.ComponentResource):
    """The workload identity pool the cluster providers live in.

    Outputs:
        name: the pool's resource name,
            ``projects/<NUM>/locations/global/workloadIdentityPools/<ID>``.
        pool_id: the pool id.
    """

    name: pulumi.Output[str]
    pool_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: GcpWorkloadIdentityPoolArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("fluxtrust:gcp:WorkloadIdentityPool", name, None, opts)

        if (problem := validate_gcp_id(args.pool_id)) is not None:
            msg = f"workload identity pool {name!r}: {problem}"
            raise GcpTrustError(msg)

        pool = iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=args.project,
            workload_identity_pool_id=args.pool_id,
            display_name=args.display_name,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.name = pool.name
        self.pool_id = pool.workload_identity_pool_id
        self.register_outputs({"name": self.name, "pool_id": self.pool_id})


# --------------------------------------------------------------------------------------------
# Provider per cluster issuer


@dataclass
class GcpClusterProviderArgs:
    """Arguments of `GcpClusterProvider`."""

    project: str
    """The GCP project id that holds the pool."""

    project_number: str
    """The GCP project's number, as it appears in the provider's name and audience."""

    pool_id: str
    """The pool the provider belongs to (declare it first: depend on the pool component)."""

    provider_id: str
    """The provider id: 4 to 32 of `[a-z0-9-]`; one per issuer (see `gcp_provider_id`)."""

    issuer_url: pulumi.Input[str]
    """The cluster's service-account issuer URL, byte for byte."""

    subjects: Sequence[str]
    """The ServiceAccount subjects admitted; at least one."""

    jwks_json: pulumi.Input[str] | None = None
    """The issuer's JWKS, uploaded so GCP need not fetch it (the issuer may then be private)."""

    display_name: str | None = None
    """The provider's display name (at most 32 characters)."""


class GcpClusterProvider(pulumi.ComponentResource):
    """The OIDC provider that admits one issuer's tokens for the subjects the stack trusts.

    Outputs:
        name: ``projects/<NUM>/locations/global/workloadIdentityPools/<POOL>/providers/<ID>``
            (the `gcp.auth.fluxcd.io/workload-identity-provider` annotation).
        audience: ``//iam.googleapis.com/`` + name, the audience Flux requests.

    Raises:
        EmptyTrustError: if no subject is given.
        GcpTrustError: if an id, the issuer or a subject is invalid.
        TrustLimitError: if the attribute condition exceeds GCP's 4,096 characters.
    """

    name: pulumi.Output[str]
    audience: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: GcpClusterProviderArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("fluxtrust:gcp:ClusterProvider", name, None, opts)

        label = f"workload identity provider {args.provider_id!r} ({name})"
        problems = [validate_gcp_id(args.pool_id), validate_gcp_id(args.provider_id)]
        if isinstance(args.issuer_url, str):
            problems.append(validate_issuer_url(args.issuer_url))
        if problem := next((p for p in problems if p is not None), None):
            msg = f"{label}: {problem}"
            raise GcpTrustError(msg)
        if not args.subjects:
            msg = (
                f"{label} admits no subject; without a condition it would admit every token "
                "of the issuer, so declare it only for clusters with trusted ServiceAccounts"
            )
            raise EmptyTrustError(msg)
        try:
            condition = gcp_attribute_condition(args.subjects, provider_label=label)
        except ValueError as err:
            msg = f"{label}: {err}"
            raise GcpTrustError(msg) from None

        provider = iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            project=args.project,
            workload_identity_pool_id=args.pool_id,
            workload_identity_pool_provider_id=args.provider_id,
            display_name=args.display_name,
            attribute_mapping=gcp_attribute_mapping(),
            attribute_condition=condition,
            # No allowed audiences: GCP then accepts the provider's own resource name (with the
            # `//iam.googleapis.com/` or `https://iam.googleapis.com/` prefix), which is what
            # Flux requests from the Kubernetes token API.
            oidc=iam.WorkloadIdentityPoolProviderOidcArgs(
                issuer_uri=args.issuer_url,
                # GCP is the only cloud that accepts an uploaded JWKS; with it the issuer's
                # discovery documents need not be reachable from Google.
                jwks_json=args.jwks_json,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.name = provider.name
        self.audience = pulumi.Output.concat("//iam.googleapis.com/", provider.name)
        self.register_outputs({"name": self.name, "audience": self.audience})


# --------------------------------------------------------------------------------------------
# An identity's access


@dataclass
class GcpIdentityAccessArgs:
    """Arguments of `GcpIdentityAccess`."""

    project: str
    """The GCP project id the roles are granted on (and the service account lives in)."""

    project_number: str
    """The GCP project's number; `principal://` members must name this project."""

    identity_name: str
    """The identity's name, used in errors and the service account's display name."""

    members: Sequence[pulumi.Input[str]]
    """The IAM members standing for the identity's ServiceAccounts (`gcp_federated_member`)."""

    roles: Sequence[GcpRole]
    """The roles granted on the project."""

    access: GcpAccessMode = "direct"
    """`direct`: roles bound to the members; `impersonation`: through a Google service account."""

    service_account_id: str | None = field(default=None)
    """Impersonation only: the service account id (default: `gcp_service_account_id`)."""


def _member_key(index: int, member: pulumi.Input[str]) -> str:
    """The part of a binding's resource name that stands for its member.

    A member known when the program runs is named by a hash of its value, so reordering the
    members replaces nothing. A member known only at deploy time cannot be hashed then, and is
    named by its position in the list instead.
    """
    if isinstance(member, str):
        return _digest(member)
    return f"m{index}"


class GcpIdentityAccess(pulumi.ComponentResource):
    """What one identity may do in GCP, directly or by impersonating a Google service account.

    Outputs:
        service_account_email: the service account's email (the `iam.gke.io/gcp-service-account`
            annotation), or None for direct access.
        members: the federated members granted access (directly or to impersonate).

    Raises:
        EmptyTrustError: if there is no member or no role.
        GcpTrustError: if the access mode, a member or the service account id is invalid.
    """

    service_account_email: pulumi.Output[str] | None
    members: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: GcpIdentityAccessArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("fluxtrust:gcp:IdentityAccess", name, None, opts)

        label = f"GCP access of identity {args.identity_name!r}"
        if args.access not in ("direct", "impersonation"):
            msg = f"{label}: access is {args.access!r}; use direct or impersonation"
            raise GcpTrustError(msg)
        if not args.members or not args.roles:
            msg = f"{label} has no {'member' if not args.members else 'role'}: it grants nothing"
            raise EmptyTrustError(msg)
        for member in args.members:
            match = isinstance(member, str) and _PRINCIPAL_PROJECT_RE.match(member)
            if match and match.group("number") != args.project_number:
                msg = (
                    f"{label}: member {member!r} is federated through another project than "
                    f"{args.project!r} (number {args.project_number})"
                )
                raise GcpTrustError(msg)
        roles = sorted({role.role for role in args.roles})
        # A member given twice is one binding (and one resource name).
        members = list(dict.fromkeys(args.members))
        child = pulumi.ResourceOptions(parent=self)

        if args.access == "direct":
            # One binding per (role, member), named by a hash of both so that reordering either
            # list changes no resource name.
            for role in roles:
                for index, member in enumerate(members):
                    projects.IAMMember(
                        f"{name}-{_digest(role, _member_key(index, member))}",
                        project=args.project,
                        role=role,
                        member=member,
                        opts=child,
                    )
            self.service_account_email = None
        else:
            account_id = args.service_account_id or gcp_service_account_id(
                pulumi.get_stack(), args.identity_name
            )
            if _SERVICE_ACCOUNT_ID_RE.fullmatch(account_id) is None:
                msg = (
                    f"{label}: service account id {account_id!r} must be 6 to 30 lowercase "
                    "letters, digits or '-', starting with a letter and not ending with '-'"
                )
                raise GcpTrustError(msg)

            account = serviceaccount.Account(
                f"{name}-sa",
                project=args.project,
                account_id=account_id,
                display_name=f"Flux identity {args.identity_name}",
                description="Impersonated by Flux ServiceAccounts through workload identity",
                opts=child,
            )
            account_member = pulumi.Output.concat("serviceAccount:", account.email)

            for role in roles:
                projects.IAMMember(
                    f"{name}-role-{_digest(role)}",
                    project=args.project,
                    role=role,
                    member=account_member,
                    opts=child,
                )

            for index, member in enumerate(members):
                serviceaccount.IAMMember(
                    f"{name}-user-{_member_key(index, member)}",
                    service_account_id=account.name,
                    role=WORKLOAD_IDENTITY_USER,
                    member=member,
                    opts=child,
                )
            self.service_account_email = account.email

        self.members = pulumi.Output.all(*members).apply(lambda values: [str(v) for v in values])
        outputs: dict[str, pulumi.Input[object]] = {"members": self.members}
        if self.service_account_email is not None:
            outputs["service_account_email"] = self.service_account_email
        self.register_outputs(outputs)
