"""The target clouds' side of a token exchange, written from the clouds' documented behaviour.

Each `verify_*` function is one cloud's token endpoint: it takes the token Flux presents and the
parameters Flux sends with it (the role ARN, the client id, the STS audience, the Google service
account), reads the trust the plan declares (resource inputs, never the production builders), and
either returns what the token is granted or raises `TokenRefusedError` naming the refusing stage.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import celpy
from celpy.adapter import json_to_cel
from fluxtrust.plan import PlannedResource
from jwcrypto import common, jwk, jwt

from .iam_policy import PolicyError, PolicyRequest, evaluate_policy
from .tokens import unverified_parts
from .web import Document, Web, discovery_url

__all__ = [
    "AwsAssumeRole",
    "AwsGrant",
    "AzureGrant",
    "AzureTokenExchange",
    "CloudRequest",
    "Clouds",
    "GcpGrant",
    "GcpStsExchange",
    "GkeWorkloadIdentity",
    "Grant",
    "PublishedIssuer",
    "Stage",
    "TokenRefusedError",
    "authenticate",
    "evaluate_cel",
    "published_issuer",
    "verify",
    "verify_signature",
]

Stage: TypeAlias = Literal["discovery", "signature", "lifetime", "audience", "trust"]

# How far a verifier tolerates clocks apart; the clouds allow a few minutes at most.
CLOCK_SKEW = 60
SIGNING_ALGORITHMS = ("RS256", "ES256")
# Limits the clouds enforce when the trust is created, so a plan beyond them never works.
AWS_TRUST_POLICY_MAX_CHARS = 2048
AZURE_MAX_FEDERATED_CREDENTIALS = 20
GCP_SUBJECT_MAX_BYTES = 127

AWS_ROLE = "aws:iam/role:Role"
AWS_OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
AWS_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AWS_INLINE_POLICY = "aws:iam/rolePolicy:RolePolicy"
AZURE_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
AZURE_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
AZURE_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
GCP_POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
GCP_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
GCP_PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
GCP_SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
GCP_SA = "gcp:serviceaccount/account:Account"
GCP_WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


class TokenRefusedError(Exception):
    """The cloud refused the token; `stage` says which check did."""

    def __init__(self, stage: Stage, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage: Stage = stage
        self.reason = reason


@dataclass(frozen=True)
class Clouds:
    """What the three clouds hold once the plan is applied, and the facts the plan builds on."""

    resources: tuple[PlannedResource, ...]
    web: Web
    now: int
    aws_account_id: str | None = None
    # IAM OIDC providers that exist before the stack (an EKS cluster's own), by ARN.
    aws_existing_oidc_providers: tuple[str, ...] = ()
    azure_tenant_id: str | None = None
    # Entra's directory: a managed identity's client id -> its resource name.
    azure_client_ids: Mapping[str, str] = field(default_factory=dict)
    # ... and its resource name -> its principal (object) id, which role assignments name.
    azure_principal_ids: Mapping[str, str] = field(default_factory=dict)
    # GCP project id -> project number.
    gcp_projects: Mapping[str, str] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[PlannedResource]:
        """The declared resources of one type."""
        return [r for r in self.resources if r.type == type_token]


@dataclass(frozen=True)
class AwsAssumeRole:
    """`sts:AssumeRoleWithWebIdentity` for one role (the role-arn annotation or AWS_ROLE_ARN)."""

    role_arn: str


@dataclass(frozen=True)
class AzureTokenExchange:
    """Entra's client-credentials flow with the token as client assertion."""

    client_id: str
    tenant_id: str


@dataclass(frozen=True)
class GcpStsExchange:
    """Google STS token exchange at a workload identity provider, then maybe impersonation."""

    # The STS `audience` parameter: //iam.googleapis.com/projects/<N>/.../providers/<P>.
    audience: str
    service_account: str | None


@dataclass(frozen=True)
class GkeWorkloadIdentity:
    """GKE's metadata server exchanging a pod's token in the project's built-in pool."""

    service_account: str | None


CloudRequest: TypeAlias = AwsAssumeRole | AzureTokenExchange | GcpStsExchange | GkeWorkloadIdentity


@dataclass(frozen=True)
class AwsGrant:
    """The role a token assumed, and the permissions that role carries."""

    role_arn: str
    provider_arn: str
    policy_arns: frozenset[str]
    inline_policies: tuple[str, ...]


@dataclass(frozen=True)
class AzureGrant:
    """The managed identity a token signed in as, through which federated credential."""

    identity: str
    client_id: str
    credential: str
    # (role definition GUID, scope) of every role assignment held by the identity's principal.
    roles: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class GcpGrant:
    """The IAM member a token became, the GSA it impersonated (if any), and the roles held."""

    member: str
    roles: frozenset[str]
    service_account: str | None
    provider: str | None


Grant: TypeAlias = AwsGrant | AzureGrant | GcpGrant


@dataclass(frozen=True)
class PublishedIssuer:
    """An issuer's discovery document and JWKS, as a verifier fetches them."""

    discovery: Document
    jwks_uri: str
    jwks: Document


# ---------------------------------------------------------------- the token itself


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return unverified_parts(token)
    except ValueError as err:
        raise TokenRefusedError("signature", f"malformed token: {err}") from None


def _issuer(claims: Mapping[str, Any]) -> str:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise TokenRefusedError("discovery", f"the token's iss is not an https URL: {issuer!r}")
    return issuer


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    audience = claims.get("aud")
    if isinstance(audience, str):
        return [audience]
    if isinstance(audience, list) and audience and all(isinstance(a, str) for a in audience):
        return list(audience)
    raise TokenRefusedError("audience", f"the token has no usable aud: {audience!r}")


def _subject(claims: Mapping[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenRefusedError("trust", f"the token has no sub: {subject!r}")
    return subject


def published_issuer(web: Web, issuer: str) -> PublishedIssuer:
    """Fetches the issuer's discovery document, checks it names the issuer, then the JWKS."""
    url = discovery_url(issuer)
    discovery = web.get(url)
    if discovery is None:
        raise TokenRefusedError("discovery", f"nothing is served at {url}")
    try:
        document = discovery.json()
    except ValueError:
        raise TokenRefusedError("discovery", f"{url} is not JSON") from None
    if not isinstance(document, dict):
        raise TokenRefusedError("discovery", f"{url} is not a JSON object")
    # OpenID Connect Discovery: the document's issuer must equal the token's iss exactly.
    if document.get("issuer") != issuer:
        raise TokenRefusedError(
            "discovery",
            f"{url} names issuer {document.get('issuer')!r}, the token says {issuer!r}",
        )
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
        raise TokenRefusedError("discovery", f"{url} has no https jwks_uri: {jwks_uri!r}")
    jwks = web.get(jwks_uri)
    if jwks is None:
        raise TokenRefusedError("discovery", f"the jwks_uri {jwks_uri} serves nothing")
    return PublishedIssuer(discovery, jwks_uri, jwks)


def verify_signature(token: str, jwks: str) -> None:
    """Verifies the token's signature with the JWKS, choosing the key by kid as clouds do."""
    header, _ = _claims(token)
    algorithm = header.get("alg")
    if algorithm not in SIGNING_ALGORITHMS:
        raise TokenRefusedError("signature", f"algorithm {algorithm!r} is not accepted")
    try:
        keys = jwk.JWKSet.from_json(jwks)
    except (common.JWException, ValueError) as err:
        raise TokenRefusedError("signature", f"the JWKS is unusable: {err}") from None
    try:
        jwt.JWT(jwt=token, key=keys, algs=[algorithm], check_claims=False, expected_type="JWS")
    except (common.JWException, ValueError) as err:
        raise TokenRefusedError(
            "signature", f"no key of the JWKS verifies kid {header.get('kid')!r}: {err}"
        ) from None


def check_lifetime(claims: Mapping[str, Any], now: int) -> None:
    """exp must be in the future, nbf and iat not in it (give or take the clock skew)."""
    expires = claims.get("exp")
    if not isinstance(expires, int):
        raise TokenRefusedError("lifetime", f"the token has no numeric exp: {expires!r}")
    if now >= expires + CLOCK_SKEW:
        raise TokenRefusedError("lifetime", f"the token expired {now - expires} s ago")
    for claim in ("nbf", "iat"):
        value = claims.get(claim)
        if value is not None and (not isinstance(value, int) or value > now + CLOCK_SKEW):
            raise TokenRefusedError("lifetime", f"{claim} is in the future: {value!r}")


def authenticate(web: Web, token: str, now: int) -> dict[str, Any]:
    """What every OIDC verifier does first: discovery, signature with the JWKS, lifetime."""
    header, claims = _claims(token)
    published = published_issuer(web, _issuer(claims))
    supported = published.discovery.json().get("id_token_signing_alg_values_supported")
    if isinstance(supported, list) and header.get("alg") not in supported:
        raise TokenRefusedError("signature", f"the issuer does not sign with {header.get('alg')!r}")
    verify_signature(token, published.jwks.body)
    check_lifetime(claims, now)
    return claims


# ---------------------------------------------------------------- AWS STS


@dataclass(frozen=True)
class _OidcProvider:
    arn: str
    url: str
    client_ids: tuple[str, ...]


def _aws_oidc_providers(clouds: Clouds) -> list[_OidcProvider]:
    providers = []
    for r in clouds.of_type(AWS_OIDC_PROVIDER):
        url = str(r.inputs.get("url", ""))
        arn = f"arn:aws:iam::{clouds.aws_account_id}:oidc-provider/{url.removeprefix('https://')}"
        providers.append(_OidcProvider(arn, url, tuple(r.inputs.get("clientIdLists") or ())))
    for arn in clouds.aws_existing_oidc_providers:
        _, _, host_path = arn.partition(":oidc-provider/")
        # An EKS cluster's own provider is created with the one client id EKS uses.
        providers.append(_OidcProvider(arn, f"https://{host_path}", ("sts.amazonaws.com",)))
    return providers


def _aws_role(clouds: Clouds, role_arn: str) -> PlannedResource:
    match = re.fullmatch(r"arn:aws:iam::(\d{12}):role(/(?:[^/]+/)*)?([\w+=,.@-]{1,64})", role_arn)
    if match is None:
        raise TokenRefusedError("trust", f"{role_arn!r} is not a role ARN")
    account, path, name = match.group(1), match.group(2) or "/", match.group(3)
    if account != clouds.aws_account_id:
        raise TokenRefusedError(
            "trust", f"role {role_arn} is not in account {clouds.aws_account_id}"
        )
    roles = [
        r
        for r in clouds.of_type(AWS_ROLE)
        if r.inputs.get("name") == name and (r.inputs.get("path") or "/") == path
    ]
    if len(roles) != 1:
        raise TokenRefusedError("trust", f"the account has no role {role_arn}")
    return roles[0]


def verify_aws(clouds: Clouds, token: str, request: AwsAssumeRole) -> AwsGrant:
    """AssumeRoleWithWebIdentity: provider by issuer, client id, signature, trust policy."""
    _, claims = _claims(token)
    issuer = _issuer(claims)
    providers = [p for p in _aws_oidc_providers(clouds) if p.url == issuer]
    if not providers:
        raise TokenRefusedError("trust", f"no OpenIDConnect provider in the account for {issuer}")
    if len(providers) > 1:
        raise TokenRefusedError(
            "trust", f"IAM holds one provider per URL; {len(providers)} for {issuer}"
        )
    provider = providers[0]
    audiences = _audiences(claims)
    if len(audiences) != 1 or audiences[0] not in provider.client_ids:
        raise TokenRefusedError(
            "audience", f"aud {audiences} is not among the client ids of {provider.arn}"
        )
    claims = authenticate(clouds.web, token, clouds.now)
    role = _aws_role(clouds, request.role_arn)
    policy = str(role.inputs.get("assumeRolePolicy", ""))
    if len("".join(policy.split())) > AWS_TRUST_POLICY_MAX_CHARS:
        raise TokenRefusedError(
            "trust", f"the trust policy of {request.role_arn} exceeds IAM's limit"
        )
    # IAM's condition keys for an OIDC provider: its URL without the scheme, then the claim.
    prefix = provider.url.removeprefix("https://")
    policy_request = PolicyRequest(
        action="sts:AssumeRoleWithWebIdentity",
        principal=("Federated", provider.arn),
        context={
            f"{prefix}:aud": audiences,
            f"{prefix}:sub": [_subject(claims)],
            "aws:FederatedProvider": [provider.arn],
        },
    )
    try:
        decision = evaluate_policy(policy, policy_request)
    except PolicyError as err:
        raise TokenRefusedError("trust", f"the trust policy of {request.role_arn}: {err}") from None
    if decision != "allow":
        raise TokenRefusedError(
            "trust", f"the trust policy of {request.role_arn} gives {decision} to {claims['sub']}"
        )
    role_name = role.inputs.get("name")
    return AwsGrant(
        role_arn=request.role_arn,
        provider_arn=provider.arn,
        policy_arns=frozenset(
            str(a.inputs.get("policyArn"))
            for a in clouds.of_type(AWS_POLICY_ATTACHMENT)
            if a.inputs.get("role") == role_name
        ),
        inline_policies=tuple(
            str(p.inputs.get("policy"))
            for p in clouds.of_type(AWS_INLINE_POLICY)
            if p.inputs.get("role") == role_name
        ),
    )


# ---------------------------------------------------------------- Azure (Entra ID)


def verify_azure(clouds: Clouds, token: str, request: AzureTokenExchange) -> AzureGrant:
    """Entra ID: the identity by client id, signature, then a federated credential matching."""
    if request.tenant_id != clouds.azure_tenant_id:
        raise TokenRefusedError(
            "trust", f"tenant {request.tenant_id!r} does not hold the identities"
        )
    name = clouds.azure_client_ids.get(request.client_id)
    if name is None:
        raise TokenRefusedError("trust", f"no managed identity has client id {request.client_id!r}")
    identities = [r for r in clouds.of_type(AZURE_IDENTITY) if r.inputs.get("resourceName") == name]
    if len(identities) != 1:
        raise TokenRefusedError("trust", f"no user-assigned managed identity named {name!r}")
    group = identities[0].inputs.get("resourceGroupName")
    claims = authenticate(clouds.web, token, clouds.now)
    issuer, subject = _issuer(claims), _subject(claims)
    credentials = [
        r.inputs
        for r in clouds.of_type(AZURE_CREDENTIAL)
        if r.inputs.get("resourceName") == name and r.inputs.get("resourceGroupName") == group
    ]
    if len(credentials) > AZURE_MAX_FEDERATED_CREDENTIALS:
        raise TokenRefusedError(
            "trust", f"{name} has {len(credentials)} federated credentials; Azure: 20"
        )
    pairs = [(c.get("issuer"), c.get("subject")) for c in credentials]
    if len(set(pairs)) != len(pairs):
        raise TokenRefusedError(
            "trust", f"{name} repeats an (issuer, subject); Azure refuses the second"
        )
    # Issuer and subject are compared exactly, case included; no wildcard exists for them.
    matching = [c for c in credentials if c.get("issuer") == issuer and c.get("subject") == subject]
    if not matching:
        raise TokenRefusedError(
            "trust", f"no federated credential on {name} for issuer {issuer} subject {subject}"
        )
    credential = matching[0]
    if not set(_audiences(claims)) & set(credential.get("audiences") or ()):
        raise TokenRefusedError(
            "audience",
            f"aud {claims.get('aud')} is not among {credential.get('audiences')} on {name}",
        )
    # Azure RBAC: what the signed-in identity may do is every assignment naming its principal.
    principal = clouds.azure_principal_ids.get(name)
    roles = frozenset(
        (
            str(r.inputs.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower(),
            str(r.inputs["scope"]),
        )
        for r in clouds.of_type(AZURE_ROLE_ASSIGNMENT)
        if principal is not None and r.inputs.get("principalId") == principal
    )
    return AzureGrant(
        identity=name,
        client_id=request.client_id,
        credential=str(credential.get("federatedIdentityCredentialResourceName")),
        roles=roles,
    )


# ---------------------------------------------------------------- GCP


@functools.cache
def _cel_program(expression: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(expression))


def evaluate_cel(expression: str, activation: Mapping[str, Any]) -> Any:
    """Evaluates a CEL expression with a real CEL engine; JSON values are converted to CEL."""
    program = _cel_program(expression)
    return program.evaluate({k: json_to_cel(v) for k, v in activation.items()})


def _map_attributes(mapping: Mapping[str, str], claims: Mapping[str, Any]) -> dict[str, str]:
    attributes = {}
    for attribute, expression in mapping.items():
        try:
            value = evaluate_cel(expression, {"assertion": claims})
        except Exception as err:
            raise TokenRefusedError("trust", f"attribute mapping {attribute}: {err}") from None
        if not isinstance(value, str):
            raise TokenRefusedError(
                "trust", f"attribute mapping {attribute} gives {value!r}, not a string"
            )
        attributes[attribute] = str(value)
    return attributes


def _condition_holds(
    condition: str, claims: Mapping[str, Any], attributes: Mapping[str, str]
) -> bool:
    activation: dict[str, Any] = {"assertion": claims}
    custom = {}
    for name, value in attributes.items():
        if name.startswith("attribute."):
            custom[name.removeprefix("attribute.")] = value
        else:
            # celpy resolves the dotted name `google.subject` as one identifier.
            activation[name] = value
    activation["attribute"] = custom
    try:
        result = evaluate_cel(condition, activation)
    except Exception as err:
        raise TokenRefusedError("trust", f"attribute condition {condition!r}: {err}") from None
    return isinstance(result, celpy.celtypes.BoolType) and bool(result)


def _unconditional(r: PlannedResource) -> bool:
    # IAM conditions on a binding are not modelled, so such a binding grants nothing here.
    return not r.inputs.get("condition")


def _project_roles(clouds: Clouds, members: Sequence[str]) -> frozenset[str]:
    return frozenset(
        str(r.inputs.get("role"))
        for r in clouds.of_type(GCP_PROJECT_MEMBER)
        if r.inputs.get("member") in members and _unconditional(r)
    )


def _service_account_email(r: PlannedResource) -> str:
    return f"{r.inputs.get('accountId')}@{r.inputs.get('project')}.iam.gserviceaccount.com"


def _gcp_access(
    clouds: Clouds, members: Sequence[str], service_account: str | None, provider: str | None
) -> GcpGrant:
    """Direct access (roles granted to the member) or impersonation of a GSA."""
    if service_account is None:
        roles = _project_roles(clouds, members)
        if not roles:
            raise TokenRefusedError("trust", f"{members[0]} holds no role")
        return GcpGrant(members[0], roles, None, provider)
    accounts = [r for r in clouds.of_type(GCP_SA) if _service_account_email(r) == service_account]
    if len(accounts) != 1:
        raise TokenRefusedError("trust", f"no Google service account {service_account}")
    names = {
        f"projects/{accounts[0].inputs.get('project')}/serviceAccounts/{service_account}",
        f"projects/-/serviceAccounts/{service_account}",
    }
    users = [
        r
        for r in clouds.of_type(GCP_SA_MEMBER)
        if r.inputs.get("serviceAccountId") in names
        and r.inputs.get("role") == GCP_WORKLOAD_IDENTITY_USER
        and r.inputs.get("member") in members
        and _unconditional(r)
    ]
    if not users:
        raise TokenRefusedError(
            "trust", f"{members[0]} lacks {GCP_WORKLOAD_IDENTITY_USER} on {service_account}"
        )
    roles = _project_roles(clouds, [f"serviceAccount:{service_account}"])
    if not roles:
        raise TokenRefusedError("trust", f"{service_account} holds no role")
    return GcpGrant(str(users[0].inputs.get("member")), roles, service_account, provider)


_STS_AUDIENCE = re.compile(
    r"//iam\.googleapis\.com/(projects/(\d+)/locations/global/"
    r"workloadIdentityPools/([a-z0-9-]+)/providers/([a-z0-9-]+))"
)


def _one(clouds: Clouds, type_token: str, **inputs: str) -> PlannedResource | None:
    found = [
        r
        for r in clouds.of_type(type_token)
        if all(r.inputs.get(k) == v for k, v in inputs.items())
    ]
    return found[0] if len(found) == 1 else None


def verify_gcp_sts(clouds: Clouds, token: str, request: GcpStsExchange) -> GcpGrant:
    """Google STS: provider, audience, issuer, signature, attribute mapping and condition."""
    match = _STS_AUDIENCE.fullmatch(request.audience)
    if match is None:
        raise TokenRefusedError("trust", f"STS audience {request.audience!r} names no provider")
    name, number, pool_id, provider_id = match.groups()
    projects = [p for p, n in clouds.gcp_projects.items() if n == number]
    if len(projects) != 1:
        raise TokenRefusedError("trust", f"no project numbered {number}")
    pool = _one(clouds, GCP_POOL, project=projects[0], workloadIdentityPoolId=pool_id)
    provider = _one(
        clouds,
        GCP_PROVIDER,
        project=projects[0],
        workloadIdentityPoolId=pool_id,
        workloadIdentityPoolProviderId=provider_id,
    )
    if pool is None or provider is None or pool.inputs.get("disabled"):
        raise TokenRefusedError("trust", f"no enabled workload identity provider {name}")
    oidc = provider.inputs.get("oidc")
    if provider.inputs.get("disabled") or not isinstance(oidc, Mapping):
        raise TokenRefusedError("trust", f"{name} is not an enabled OIDC provider")
    _, claims = _claims(token)
    # With no allowedAudiences, a provider accepts its own full name, with or without https:.
    accepted = oidc.get("allowedAudiences") or [
        f"//iam.googleapis.com/{name}",
        f"https://iam.googleapis.com/{name}",
    ]
    if not set(_audiences(claims)) & set(accepted):
        raise TokenRefusedError("audience", f"aud {claims.get('aud')} is not accepted by {name}")
    if claims.get("iss") != oidc.get("issuerUri"):
        raise TokenRefusedError(
            "trust", f"iss {claims.get('iss')!r} is not {name}'s {oidc.get('issuerUri')}"
        )
    # An uploaded JWKS replaces discovery: GCP then never fetches anything from the issuer.
    if isinstance(oidc.get("jwksJson"), str):
        verify_signature(token, str(oidc["jwksJson"]))
        check_lifetime(claims, clouds.now)
    else:
        claims = authenticate(clouds.web, token, clouds.now)
    attributes = _map_attributes(provider.inputs.get("attributeMapping") or {}, claims)
    subject = attributes.get("google.subject")
    if not subject or len(subject.encode()) > GCP_SUBJECT_MAX_BYTES:
        raise TokenRefusedError("trust", f"google.subject {subject!r} is missing or over 127 bytes")
    condition = provider.inputs.get("attributeCondition")
    if condition and not _condition_holds(str(condition), claims, attributes):
        raise TokenRefusedError(
            "trust", f"attribute condition of {name} is false for {claims.get('sub')}"
        )
    principal = (
        f"principal://iam.googleapis.com/projects/{number}/locations/global/"
        f"workloadIdentityPools/{pool_id}/subject/{subject}"
    )
    return _gcp_access(clouds, [principal], request.service_account, name)


_GKE_ISSUER = re.compile(
    r"https://container\.googleapis\.com/v1/projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/"
    r"(?:locations|zones)/[a-z0-9-]+/clusters/[a-z0-9-]+"
)
_KUBERNETES_SUBJECT = re.compile(r"system:serviceaccount:([a-z0-9-.]+):([a-z0-9-.]+)")


def verify_gke(clouds: Clouds, token: str, request: GkeWorkloadIdentity) -> GcpGrant:
    """GKE's built-in workload identity: a cluster of the project, its pool, its principals."""
    _, claims = _claims(token)
    issuer = _issuer(claims)
    match = _GKE_ISSUER.fullmatch(issuer)
    if match is None:
        raise TokenRefusedError("trust", f"{issuer} is not a GKE cluster's issuer")
    project = match.group(1)
    number = clouds.gcp_projects.get(project)
    if number is None:
        raise TokenRefusedError(
            "trust", f"{issuer} is a cluster of project {project}, not of the stack's"
        )
    pool = f"{project}.svc.id.goog"
    if pool not in _audiences(claims):
        raise TokenRefusedError(
            "audience", f"aud {claims.get('aud')} is not the workload pool {pool}"
        )
    claims = authenticate(clouds.web, token, clouds.now)
    subject = _KUBERNETES_SUBJECT.fullmatch(_subject(claims))
    if subject is None:
        raise TokenRefusedError(
            "trust", f"{claims.get('sub')!r} is not a Kubernetes ServiceAccount"
        )
    namespace, name = subject.groups()
    principal = (
        f"principal://iam.googleapis.com/projects/{number}/locations/global/"
        f"workloadIdentityPools/{pool}/subject/ns/{namespace}/sa/{name}"
    )
    if request.service_account is None:
        return _gcp_access(clouds, [principal], None, None)
    # GKE's documented member for a GSA binding, and the principal form that works as well.
    legacy = f"serviceAccount:{pool}[{namespace}/{name}]"
    return _gcp_access(clouds, [legacy, principal], request.service_account, None)


def verify(clouds: Clouds, token: str, request: CloudRequest) -> Grant:
    """The cloud endpoint the request goes to."""
    if isinstance(request, AwsAssumeRole):
        return verify_aws(clouds, token, request)
    if isinstance(request, AzureTokenExchange):
        return verify_azure(clouds, token, request)
    if isinstance(request, GcpStsExchange):
        return verify_gcp_sts(clouds, token, request)
    return verify_gke(clouds, token, request)
