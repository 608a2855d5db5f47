"""What a proven cell must also show besides an accepted token; each check lists its problems.

An accepted token is not enough: the identity it reached must be the one the stack declares for
that ServiceAccount, with the permissions declared, and Flux must be pointed at it (annotations,
the ServiceAccount objects applied to clusters the stack manages, the controller patches).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .cells import Source
from .flux_side import (
    AZURE_TENANT_ID,
    GCP_PROVIDER,
    ROLE_ARN,
    ControllerSetup,
    FluxConfigurationError,
    cloud_request,
    controller_setup,
    gcp_credential_config,
    requested_audience,
)
from .verifiers import (
    AwsAssumeRole,
    AwsGrant,
    AzureGrant,
    AzureTokenExchange,
    CloudRequest,
    GcpGrant,
    GcpStsExchange,
    Grant,
    PublishedIssuer,
)
from .world import CellSubject, World

__all__ = [
    "Exchange",
    "controller_problems",
    "exchange_for",
    "grant_problems",
    "issuer_problems",
    "service_account_problems",
]

# The cloud whose managed Kubernetes service each source type is: its webhook or metadata server
# gives pods that cloud's credentials, so a controller there needs no patch for it.
MANAGED_CLOUD: Mapping[Source, str] = {"aks": "azure", "eks": "aws", "gke": "gcp"}
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}
OBJECT_LEVEL_GATE = "--feature-gates=ObjectLevelWorkloadIdentity=true"
STS_TOKEN_URL = "https://sts.googleapis.com/v1/token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


@dataclass(frozen=True)
class Exchange:
    """One cell's exchange: who asks, what Flux sends the cloud, with which token audience."""

    subject: CellSubject
    request: CloudRequest
    audience: str


def exchange_for(world: World, subject: CellSubject) -> Exchange:
    """The exchange Flux starts for the subject, from the annotations the plan outputs."""
    annotations = world.annotations(subject.cluster, subject.service_account)
    request = cloud_request(annotations, subject.cell.target, subject.cell.source)
    project = (world.config.get("gcp") or {}).get("project")
    return Exchange(subject, request, requested_audience(request, project))


def _public_only(jwks_text: str, where: str) -> list[str]:
    keys = json.loads(jwks_text).get("keys") or []
    leaks = {str(k.get("kid")): sorted(PRIVATE_JWK_MEMBERS & set(k)) for k in keys}
    return [f"{where}: key {kid} publishes {members}" for kid, members in leaks.items() if members]


def issuer_problems(world: World, cluster: str, published: PublishedIssuer) -> list[str]:
    """A hosted issuer is served from the plan's uploads, at the conventional JWKS path."""
    problems = _public_only(published.jwks.body, published.jwks_uri)
    if not world.is_hosted(cluster):
        return problems
    issuer = world.issuer(cluster)
    if published.jwks_uri != f"{issuer}/openid/v1/jwks":
        problems.append(f"jwks_uri {published.jwks_uri} is not {issuer}/openid/v1/jwks")
    for document in (published.discovery, published.jwks):
        if not document.served_by.startswith("plan:"):
            problems.append(f"{document.served_by} serves a hosted issuer's document")
    return problems


def _aws_problems(
    identity: Mapping[str, Any], declared: Mapping[str, Any], grant: AwsGrant
) -> list[str]:
    problems = []
    if grant.role_arn != declared["roleArn"]:
        problems.append(
            f"the token assumed {grant.role_arn}, the identity is {declared['roleArn']}"
        )
    policies = set(identity.get("policyArns") or ())
    if grant.policy_arns != policies:
        problems.append(f"the role has policies {sorted(grant.policy_arns)}, declared {policies}")
    inline = identity.get("inlinePolicy")
    if inline is not None and [json.loads(p) for p in grant.inline_policies] != [inline]:
        problems.append(f"the role's inline policies {grant.inline_policies} are not {inline}")
    return problems


def _gcp_problems(
    world: World, exchange: Exchange, identity: Mapping[str, Any], grant: GcpGrant
) -> list[str]:
    problems = []
    declared = world.declared_identity(exchange.subject.identity)["clouds"]["gcp"]
    roles = {r["role"] for r in identity.get("roles") or ()}
    if grant.roles != roles:
        problems.append(f"the token holds roles {sorted(grant.roles)}, declared {sorted(roles)}")
    if identity.get("access", "direct") == "impersonation":
        if grant.service_account != declared["serviceAccount"]:
            problems.append(
                f"impersonated {grant.service_account}, not {declared['serviceAccount']}"
            )
    elif grant.service_account is not None:
        problems.append(f"direct access went through {grant.service_account}")
    # A GKE cluster of the stack's project uses GKE's built-in pool, not a provider.
    if exchange.subject.cell.source == "gke" and grant.provider is not None:
        problems.append(f"a GKE cluster of the project went through provider {grant.provider}")
    return problems


# Azure's built-in role definition GUIDs for the roles the stack grants, from Azure's published
# list of built-in roles (kept apart from the production mapping, so a wrong GUID there shows).
_AZURE_ROLE_IDS = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
}


def grant_problems(world: World, exchange: Exchange, grant: Grant) -> list[str]:
    """The identity reached is the one declared for the ServiceAccount, with its permissions."""
    subject = exchange.subject
    identity = world.identity(subject.identity)[subject.cell.target]
    declared = world.declared_identity(subject.identity)["clouds"][subject.cell.target]
    if isinstance(grant, AwsGrant):
        return _aws_problems(identity, declared, grant)
    if isinstance(grant, AzureGrant):
        wanted = (declared["name"], declared["clientId"])
        if (grant.identity, grant.client_id) != wanted:
            return [f"signed in as {grant.identity} ({grant.client_id}), declared {wanted}"]
        expected = {(_AZURE_ROLE_IDS[r["role"]], r["scope"]) for r in declared["roles"]}
        if grant.roles != expected:
            return [f"holds Azure roles {sorted(grant.roles)}, declared {sorted(expected)}"]
        return []
    return _gcp_problems(world, exchange, identity, grant)


def service_account_problems(world: World, exchange: Exchange) -> list[str]:
    """The annotations lead Flux to the identity, and a managed cluster's object carries them."""
    subject = exchange.subject
    annotations = world.annotations(subject.cluster, subject.service_account)
    problems = []
    request = exchange.request
    if isinstance(request, AwsAssumeRole) and annotations.get(ROLE_ARN) != request.role_arn:
        problems.append(f"{ROLE_ARN} is {annotations.get(ROLE_ARN)}")
    if isinstance(request, AzureTokenExchange):
        tenant = (world.config.get("azure") or {}).get("tenantId")
        if annotations.get(AZURE_TENANT_ID) != tenant:
            problems.append(
                f"{AZURE_TENANT_ID} is {annotations.get(AZURE_TENANT_ID)}, not {tenant}"
            )
    if isinstance(request, GcpStsExchange) and (
        request.audience != f"//iam.googleapis.com/{annotations.get(GCP_PROVIDER)}"
    ):
        problems.append(f"{GCP_PROVIDER} does not name the provider {request.audience}")
    kubernetes = world.cluster(subject.cluster).get("kubernetes")
    if kubernetes:
        problems += _applied_service_account_problems(world, subject, kubernetes, annotations)
    return problems


def _applied_service_account_problems(
    world: World,
    subject: CellSubject,
    kubernetes: Mapping[str, Any],
    annotations: Mapping[str, str],
) -> list[str]:
    """The ServiceAccount (or patch) applied through this cluster's provider has the annotations."""
    providers = [
        r
        for r in world.plan.of_type("pulumi:providers:kubernetes")
        if all(r.inputs.get(k) == v for k, v in kubernetes.items())
    ]
    if len(providers) != 1:
        return [f"{len(providers)} Kubernetes providers for {subject.cluster} ({dict(kubernetes)})"]
    objects = [
        r
        for r in world.plan.resources
        if r.type in ("kubernetes:core/v1:ServiceAccount", "kubernetes:core/v1:ServiceAccountPatch")
        and r.parent == providers[0].parent
        and r.inputs["metadata"].get("namespace") == subject.namespace
        and r.inputs["metadata"].get("name") == subject.name
    ]
    if len(objects) != 1:
        return [f"{len(objects)} ServiceAccount objects for {subject.service_account}"]
    applied = objects[0].inputs["metadata"].get("annotations") or {}
    if applied != dict(annotations):
        return [f"{objects[0].name} carries {applied}, the plan outputs {dict(annotations)}"]
    return []


def _patched_problems(setup: ControllerSetup, exchange: Exchange) -> list[str]:
    """A controller away from the target's managed service gets a projected token and env."""
    request, audience = exchange.request, exchange.audience
    env = setup.env
    if isinstance(request, AwsAssumeRole):
        wanted = {"AWS_ROLE_ARN": request.role_arn}
        token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
        required = ["AWS_REGION"]
    elif isinstance(request, AzureTokenExchange):
        wanted = {"AZURE_CLIENT_ID": request.client_id, "AZURE_TENANT_ID": request.tenant_id}
        token_file = env.get("AZURE_FEDERATED_TOKEN_FILE", "")
        required = ["AZURE_AUTHORITY_HOST"]
    else:
        return _gcp_credential_problems(setup, exchange)
    problems = [f"{k}={env.get(k)!r}, want {v!r}" for k, v in wanted.items() if env.get(k) != v]
    problems += [f"{k} is not set" for k in required if not env.get(k)]
    if setup.token_audience(token_file) != audience:
        problems.append(f"{token_file} has audience {setup.token_audience(token_file)}")
    return problems


def _gcp_credential_problems(setup: ControllerSetup, exchange: Exchange) -> list[str]:
    """The external_account file: audience, token file, and impersonation as annotated."""
    config = gcp_credential_config(setup)
    request = exchange.request
    assert isinstance(request, GcpStsExchange)
    wanted = {
        "type": "external_account",
        "audience": exchange.audience,
        "subject_token_type": JWT_TOKEN_TYPE,
        "token_url": STS_TOKEN_URL,
    }
    problems = [
        f"{k}={config.get(k)!r}, want {v!r}" for k, v in wanted.items() if config.get(k) != v
    ]
    token_file = str((config.get("credential_source") or {}).get("file", ""))
    if setup.token_audience(token_file) != exchange.audience:
        problems.append(f"{token_file} has audience {setup.token_audience(token_file)}")
    impersonation = config.get("service_account_impersonation_url")
    expected = (
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
        f"{request.service_account}:generateAccessToken"
        if request.service_account
        else None
    )
    if impersonation != expected:
        problems.append(
            f"service_account_impersonation_url is {impersonation!r}, want {expected!r}"
        )
    return problems


def _appended_args(patches: Mapping[str, str]) -> list[str]:
    """Every container argument the kustomization's JSON 6902 patches append, any Deployment."""
    kustomization = yaml.safe_load(patches.get("kustomization.yaml", "")) or {}
    args: list[str] = []
    for entry in kustomization.get("patches") or []:
        patch = yaml.safe_load(entry["patch"])
        if isinstance(patch, list):
            args += [
                str(op.get("value")) for op in patch if str(op.get("path", "")).endswith("/args/-")
            ]
    return args


def controller_problems(world: World, exchange: Exchange) -> list[str]:
    """The Flux patches make the controller (or, at object level, the feature gate) work."""
    subject = exchange.subject
    patches = world.plan.outputs["fluxPatches"].get(subject.cluster) or {}
    if subject.cell.level == "object":
        gated = OBJECT_LEVEL_GATE in _appended_args(patches)
        return [] if gated else [f"no controller on {subject.cluster} has {OBJECT_LEVEL_GATE}"]
    setup = controller_setup(patches, subject.name)
    target = subject.cell.target
    try:
        if MANAGED_CLOUD.get(subject.cell.source) != target:
            return _patched_problems(setup, exchange)
    except FluxConfigurationError as err:
        return [str(err)]
    # On the target's own managed service: AKS's webhook acts only on labelled pods.
    if target == "azure" and setup.pod_labels.get("azure.workload.identity/use") != "true":
        return [f"{subject.name}'s pods lack the label azure.workload.identity/use: 'true'"]
    return []
