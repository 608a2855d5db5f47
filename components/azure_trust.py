"""The Azure side of the trust: a user-assigned managed identity per Flux identity.

Each `AzureFederatedIdentity` holds one federated identity credential per (cluster issuer,
ServiceAccount subject) with the audience Flux requests (`api://AzureADTokenExchange`), and the
role assignments that say what the identity may do. Flux does not support app registrations for
federation, hence managed identities.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, managedidentity

from .config import AzureRole
from .trust_policy import (
    AZURE_AUDIENCE,
    azure_federated_credential_name,
    azure_role_assignment_name,
    azure_role_definition_id,
    check_azure_federated_credential_count,
)

__all__ = [
    "AZURE_IDENTITY_NAME_MAX_CHARS",
    "AzureCredential",
    "AzureFederatedIdentity",
    "AzureFederatedIdentityArgs",
    "AzureTrustError",
    "DuplicateFederatedCredentialError",
    "azure_identity_name",
    "azure_identity_resource_id",
]

# User-assigned identity names: 3 to 128 letters, digits, '-' and '_', a letter or digit first.
AZURE_IDENTITY_NAME_MAX_CHARS = 128
_IDENTITY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}")
_IDENTITY_NAME_INVALID = re.compile(r"[^A-Za-z0-9_-]+")
_HASH_CHARS = 8


class AzureTrustError(pulumi.RunError):
    """An Azure trust cannot be declared as asked; the message names the identity."""


class DuplicateFederatedCredentialError(AzureTrustError):
    """Two federated credentials of one identity would trust the same (issuer, subject)."""


def _digest(*parts: str, length: int = _HASH_CHARS) -> str:
    """A short, stable hex digest of ``parts``; it becomes part of resource names."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def azure_identity_name(stack: str, identity: str) -> str:
    """Return the managed identity name of an identity in a stack: ``fluxtrust-<stack>-<identity>``.

    Characters Azure refuses (a stack name may hold '.') become ``-``; when that changed
    anything, or the name is too long, it is cut short and ends with a hash of the untouched
    name, so two stacks or identities never share a managed identity.
    """
    wanted = f"fluxtrust-{stack}-{identity}"
    cleaned = _IDENTITY_NAME_INVALID.sub("-", wanted)
    if cleaned == wanted and _IDENTITY_NAME_RE.fullmatch(cleaned):
        return cleaned
    suffix = _digest(wanted)
    head = cleaned[: AZURE_IDENTITY_NAME_MAX_CHARS - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def azure_identity_resource_id(subscription_id: str, resource_group: str, name: str) -> str:
    """Return the ARM id of a user-assigned managed identity, known before it exists."""
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )


@dataclass
class AzureCredential:
    """One (issuer, subject) pair the identity trusts."""

    cluster_name: str
    """The source cluster, part of the credential's name in Azure."""

    issuer_url: pulumi.Input[str]
    """The cluster's service-account issuer URL, byte for byte."""

    subject: str
    """The ServiceAccount token subject, `system:serviceaccount:<ns>:<name>` (case-sensitive)."""

    key: str
    """A stable key for this credential (cluster and issuer identity): names the Pulumi resource
    and fixes the order in which credentials are written."""


@dataclass
class AzureFederatedIdentityArgs:
    """Arguments of `AzureFederatedIdentity`."""

    identity_name: str
    """The managed identity's name in Azure, used as is."""

    resource_group: str
    """The resource group that holds the identity."""

    location: str
    """The Azure region of the identity, e.g. `westeurope`."""

    subscription_id: str
    """The subscription of the resource group; built-in role names resolve against it."""

    credentials: Sequence[AzureCredential]
    """The (issuer, subject) pairs trusted; 1 to 20 (Azure's limit per identity)."""

    roles: Sequence[AzureRole] = field(default_factory=tuple)
    """Role assignments for the identity's principal."""

    tags: Mapping[str, str] | None = None
    """Tags on the managed identity."""


def _check_credentials(identity_name: str, credentials: Sequence[AzureCredential]) -> None:
    """Raise unless the credentials are 1 to 20, with distinct keys and (issuer, subject)."""
    if not credentials:
        msg = f"Azure identity {identity_name!r} has no federated credential: it trusts nobody"
        raise AzureTrustError(msg)
    check_azure_federated_credential_count(len(credentials), identity_label=identity_name)
    keys: set[tuple[str, str]] = set()
    pairs: set[tuple[str, str]] = set()
    for credential in credentials:
        key = (credential.key, credential.subject)
        if key in keys:
            msg = (
                f"Azure identity {identity_name!r}: two federated credentials share the key "
                f"{credential.key!r} for subject {credential.subject!r}; keys must be unique"
            )
            raise DuplicateFederatedCredentialError(msg)
        keys.add(key)
        if isinstance(credential.issuer_url, str):
            _check_pair(identity_name, (credential.issuer_url, credential.subject), pairs)


def _check_pair(identity_name: str, pair: tuple[str, str], seen: set[tuple[str, str]]) -> None:
    """Raise if (issuer, subject) is already in ``seen``; Azure refuses the second credential."""
    if pair in seen:
        msg = (
            f"Azure identity {identity_name!r} would hold two federated credentials for issuer "
            f"{pair[0]!r} and subject {pair[1]!r}; Azure allows one per (issuer, subject)"
        )
        raise DuplicateFederatedCredentialError(msg)
    seen.add(pair)


def _check_resolved_pairs(
    identity_name: str, issuers: Sequence[object], subjects: Sequence[str]
) -> list[str]:
    """The duplicate check again once issuers known only at deploy time are resolved."""
    seen: set[tuple[str, str]] = set()
    for issuer, subject in zip(issuers, subjects, strict=True):
        _check_pair(identity_name, (str(issuer), subject), seen)
    return [str(issuer) for issuer in issuers]


def _item(values: Sequence[str], index: int) -> str:
    """One of the resolved issuers."""
    return values[index]


def _credential_name(identity_name: str, credential: AzureCredential, issuer_url: str) -> str:
    """The credential's name in Azure; a new issuer or subject gives a new credential."""
    try:
        return azure_federated_credential_name(
            identity_name, credential.cluster_name, issuer_url, credential.subject
        )
    except ValueError as err:
        msg = f"Azure identity {identity_name!r}, cluster {credential.cluster_name!r}: {err}"
        raise AzureTrustError(msg) from None


class AzureFederatedIdentity(pulumi.ComponentResource):
    """A user-assigned managed identity trusted by Flux ServiceAccounts, with its roles.

    Outputs:
        client_id: the identity's client id (the `azure.workload.identity/client-id` annotation).
        principal_id: the object id of the identity's service principal.
        tenant_id: the Entra ID tenant (the `azure.workload.identity/tenant-id` annotation).
        resource_id: the identity's ARM id.

    Raises:
        AzureTrustError: if there is no credential, two share a key, or a role is unknown.
        DuplicateFederatedCredentialError: if two credentials trust the same (issuer, subject).
        TrustLimitError: if there are more than 20 credentials.
    """

    client_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    resource_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: AzureFederatedIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("fluxtrust:azure:FederatedIdentity", name, None, opts)

        identity_name = args.identity_name
        if _IDENTITY_NAME_RE.fullmatch(identity_name) is None:
            msg = (
                f"{name}: {identity_name!r} is not a managed identity name: 3 to 128 letters, "
                "digits, '-' and '_', starting with a letter or digit (see azure_identity_name)"
            )
            raise AzureTrustError(msg)
        _check_credentials(identity_name, args.credentials)
        # ARM ids are case-insensitive: the same role at the same scope, spelt twice, is one
        # assignment (and one resource name).
        assignments: dict[tuple[str, str], tuple[str, str]] = {}
        for role in args.roles:
            try:
                role_definition_id = azure_role_definition_id(role.role, args.subscription_id)
            except ValueError as err:
                msg = f"Azure identity {identity_name!r}: {err}"
                raise AzureTrustError(msg) from None
            key = (role_definition_id.lower(), role.scope.lower())
            assignments.setdefault(key, (role_definition_id, role.scope))
        child = pulumi.ResourceOptions(parent=self)

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=identity_name,
            resource_group_name=args.resource_group,
            location=args.location,
            tags=dict(args.tags) if args.tags is not None else None,
            opts=child,
        )

        # Credentials whose issuer is known only at deploy time are checked for duplicates again
        # once it resolves; the credentials read their issuer through this check.
        ordered = sorted(args.credentials, key=lambda c: (c.key, c.subject))
        issuers = pulumi.Output.all(*[c.issuer_url for c in ordered]).apply(
            lambda values: _check_resolved_pairs(
                identity_name, values, [c.subject for c in ordered]
            )
        )

        # Azure fails concurrent writes of credentials on one identity with 409
        # ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity, so each
        # credential waits for the previous one, in the stable order of their keys.
        previous: managedidentity.FederatedIdentityCredential | None = None
        for index, credential in enumerate(ordered):
            issuer = issuers.apply(functools.partial(_item, index=index))
            credential_name = issuer.apply(
                functools.partial(_credential_name, identity_name, credential)
            )
            previous = managedidentity.FederatedIdentityCredential(
                f"{name}-fic-{_digest(credential.key, credential.subject)}",
                resource_name_=identity.name,
                resource_group_name=args.resource_group,
                federated_identity_credential_resource_name=credential_name,
                issuer=issuer,
                subject=credential.subject,
                audiences=[AZURE_AUDIENCE],
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[previous] if previous is not None else None
                ),
            )

        # The assignment name is a GUID derived from the identity's ARM id (known before the
        # identity exists, unlike its principal id), the role and the scope: stable previews.
        principal_key = azure_identity_resource_id(
            args.subscription_id, args.resource_group, identity_name
        )
        for key, (role_definition_id, scope) in sorted(assignments.items()):
            assignment_name = azure_role_assignment_name(principal_key, role_definition_id, scope)
            authorization.RoleAssignment(
                f"{name}-role-{_digest(*key)}",
                role_assignment_name=assignment_name,
                principal_id=identity.principal_id,
                # Without the type, ARM looks the new principal up in Entra ID, where it may not
                # have replicated yet, and the assignment fails with PrincipalNotFound.
                principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=role_definition_id,
                scope=scope,
                # The name is fixed, so a replacement (new principal after the identity was
                # recreated) must free it before creating the new assignment.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )

        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        self.tenant_id = identity.tenant_id
        self.resource_id = identity.id
        self.register_outputs(
            {
                "client_id": self.client_id,
                "principal_id": self.principal_id,
                "tenant_id": self.tenant_id,
                "resource_id": self.resource_id,
            }
        )
