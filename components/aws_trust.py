"""The AWS side of the trust: IAM OIDC identity providers and roles Flux ServiceAccounts assume.

One `AwsOidcProvider` per issuer per account (or an existing provider reused by ARN), and one
`AwsFederatedRole` per identity whose trust policy admits exactly the identity's ServiceAccount
subjects, through each cluster's provider, with the audience Flux requests (`sts.amazonaws.com`).
Policies are built by the pure builders of `trust_policy` and rendered as canonical JSON, so two
runs on the same configuration declare byte-identical inputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from . import trust_policy
from .trust_policy import (
    AWS_AUDIENCE,
    AWS_TRUST_POLICY_MAX_CHARS,
    aws_role_trust_policy,
    canonical_json,
    check_aws_trust_policy_size,
    issuer_host_path,
)

__all__ = [
    "AWS_ROLE_NAME_MAX_CHARS",
    "AwsFederatedRole",
    "AwsFederatedRoleArgs",
    "AwsFederation",
    "AwsOidcProvider",
    "AwsOidcProviderArgs",
    "AwsTrustError",
    "aws_role_name",
]

# IAM role names: at most 64 characters of letters, digits and `+=,.@_-`.
AWS_ROLE_NAME_MAX_CHARS = 64
_ROLE_NAME_RE = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_ROLE_NAME_INVALID = re.compile(r"[^\w+=,.@-]+", re.ASCII)
_HASH_CHARS = 8


class AwsTrustError(pulumi.RunError):
    """An AWS trust cannot be declared as asked; the message names the role or issuer."""


def _digest(*parts: str, length: int = _HASH_CHARS) -> str:
    """A short, stable hex digest of ``parts``; it becomes part of resource names."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def aws_role_name(stack: str, identity: str) -> str:
    """Return the IAM role name of an identity in a stack: ``fluxtrust-<stack>-<identity>``.

    Characters IAM refuses become ``-``. When that changed anything, or the name would exceed
    IAM's 64 characters, it is cut short and ends with a hash of the untouched name, so two
    stacks or identities never share a role name.
    """
    wanted = f"fluxtrust-{stack}-{identity}"
    cleaned = _ROLE_NAME_INVALID.sub("-", wanted)
    if cleaned == wanted and len(cleaned) <= AWS_ROLE_NAME_MAX_CHARS:
        return cleaned
    suffix = _digest(wanted)
    head = cleaned[: AWS_ROLE_NAME_MAX_CHARS - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def _provider_matches_issuer(provider_arn: str, issuer_url: str) -> bool:
    """Whether an IAM OIDC provider ARN names the provider of ``issuer_url``."""
    return provider_arn.partition(":oidc-provider/")[2] == issuer_host_path(issuer_url)


# --------------------------------------------------------------------------------------------
# OIDC identity provider


@dataclass
class AwsOidcProviderArgs:
    """Arguments of `AwsOidcProvider`."""

    issuer_url: pulumi.Input[str]
    """The cluster's service-account issuer URL, byte for byte (a trailing slash matters)."""

    existing_arn: str | None = None
    """ARN of a provider IAM already holds for this issuer (EKS clusters often have one): reused."""


class AwsOidcProvider(pulumi.ComponentResource):
    """The IAM OIDC identity provider of one issuer in the account, declared or reused.

    Outputs:
        arn: the provider's ARN, the `Federated` principal of role trust policies.
        issuer_url: the issuer URL the provider stands for.
    """

    arn: pulumi.Output[str]
    issuer_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsOidcProviderArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fluxtrust:aws:OidcProvider", name, None, opts)

        if (
            args.existing_arn is not None
            and isinstance(args.issuer_url, str)
            and not _provider_matches_issuer(args.existing_arn, args.issuer_url)
        ):
            msg = (
                f"{name}: the IAM OIDC provider {args.existing_arn!r} is not the provider of "
                f"issuer {args.issuer_url!r}; give the ARN ending in "
                f"oidc-provider/{issuer_host_path(args.issuer_url)}, or none to declare one"
            )
            raise AwsTrustError(msg)

        self.issuer_url = pulumi.Output.from_input(args.issuer_url)
        if args.existing_arn is not None:
            # IAM holds one provider per URL: declaring a second one for the same issuer fails
            # with EntityAlreadyExists, so an existing provider is referenced, not declared.
            self.arn = pulumi.Output.from_input(args.existing_arn)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-provider",
                url=args.issuer_url,
                client_id_lists=[AWS_AUDIENCE],
                # No thumbprints: since 2024 IAM validates issuers whose TLS chain ends at a
                # public root CA (S3, EKS, any public host) itself and ignores thumbprints.
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arn = provider.arn

        self.register_outputs({"arn": self.arn, "issuer_url": self.issuer_url})


# --------------------------------------------------------------------------------------------
# Federated role


@dataclass
class AwsFederation:
    """One way into a role: a ServiceAccount subject of one issuer, through its OIDC provider."""

    provider_arn: pulumi.Input[str]
    """ARN of the issuer's IAM OIDC provider (`AwsOidcProvider.arn`)."""

    issuer_url: pulumi.Input[str]
    """The issuer URL; names the condition keys `<issuer without https://>:aud` and `:sub`."""

    subject: str
    """The ServiceAccount token subject admitted, `system:serviceaccount:<ns>:<name>`."""


@dataclass
class AwsFederatedRoleArgs:
    """Arguments of `AwsFederatedRole`."""

    role_name: str
    """The IAM role name, used as is (see `aws_role_name`): ServiceAccount annotations name it."""

    federations: Sequence[AwsFederation]
    """The (provider, subject) pairs that may assume the role; at least one."""

    policy_arns: Sequence[str] = field(default_factory=tuple)
    """Managed policies attached to the role."""

    inline_policy: str | None = None
    """An inline permissions policy, as JSON text."""

    description: str | None = None
    """The role's description in IAM."""

    trust_policy_max_chars: int = AWS_TRUST_POLICY_MAX_CHARS
    """The account's 'Role trust policy length' quota: 2,048 unless raised (at most 4,096)."""


def _trust_policy_json(
    role_name: str, flat: Sequence[Any], subjects: Sequence[str], limit: int
) -> str:
    """Build, check and render the trust policy from resolved (provider ARN, issuer) pairs."""
    federations = []
    for index, subject in enumerate(subjects):
        provider_arn, issuer_url = str(flat[2 * index]), str(flat[2 * index + 1])
        try:
            federations.append(
                trust_policy.AwsFederation(
                    provider_arn=provider_arn, issuer_url=issuer_url, subjects=(subject,)
                )
            )
        except ValueError as err:
            msg = f"AWS role {role_name!r}: {err}"
            raise AwsTrustError(msg) from None
    # Federations through the same provider merge into one statement with a list of subjects,
    # which keeps the policy under IAM's size limit for longer.
    policy = aws_role_trust_policy(federations)
    check_aws_trust_policy_size(policy, role_label=role_name, limit=limit)
    return canonical_json(policy)


class AwsFederatedRole(pulumi.ComponentResource):
    """An IAM role assumable with web identity by the given ServiceAccounts, and its permissions.

    Outputs:
        arn: the role's ARN (the `eks.amazonaws.com/role-arn` annotation).
        name: the role's name.

    Raises:
        AwsTrustError: if the role name is not a valid IAM name, there is no federation, or a
            provider ARN does not belong to its issuer.
        TrustLimitError: if the trust policy exceeds IAM's 2,048 characters.
    """

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AwsFederatedRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fluxtrust:aws:FederatedRole", name, None, opts)

        role_name = args.role_name
        if _ROLE_NAME_RE.fullmatch(role_name) is None:
            msg = (
                f"{name}: {role_name!r} is not an IAM role name: at most "
                f"{AWS_ROLE_NAME_MAX_CHARS} letters, digits and '+=,.@_-' (see aws_role_name)"
            )
            raise AwsTrustError(msg)
        if not args.federations:
            msg = f"AWS role {role_name!r} has no federation: it would trust no cluster"
            raise AwsTrustError(msg)

        flat: list[pulumi.Input[str]] = []
        for federation in args.federations:
            flat += [federation.provider_arn, federation.issuer_url]
        subjects = [federation.subject for federation in args.federations]
        assume_role_policy = pulumi.Output.all(*flat).apply(
            lambda values: _trust_policy_json(
                role_name, values, subjects, args.trust_policy_max_chars
            )
        )
        child = pulumi.ResourceOptions(parent=self)

        role = aws.iam.Role(
            f"{name}-role",
            # An explicit name, not an auto-named one: ServiceAccount annotations carry it.
            name=role_name,
            assume_role_policy=assume_role_policy,
            description=args.description,
            opts=child,
        )

        # Named by a hash of the ARN, not by its position, so reordering the list replaces
        # nothing; sorted so that the declaration order is stable as well.
        for policy_arn in sorted(set(args.policy_arns)):
            aws.iam.RolePolicyAttachment(
                f"{name}-policy-{_digest(policy_arn)}",
                role=role.name,
                policy_arn=policy_arn,
                opts=child,
            )

        if args.inline_policy is not None:
            aws.iam.RolePolicy(
                f"{name}-inline",
                name="fluxtrust",
                role=role.name,
                policy=args.inline_policy,
                opts=child,
            )

        self.arn = role.arn
        self.name = role.name
        self.register_outputs({"arn": self.arn, "name": self.name})
