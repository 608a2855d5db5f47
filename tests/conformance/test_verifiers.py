"""The verifiers themselves: they read the plan, and they evaluate policies as the clouds do.

A verifier that accepted everything would make every cell pass; these tests break one input of
the planned trust at a time and expect the cell's own token to be refused, and pin the IAM and
CEL semantics the verifiers rely on.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from .cells import CELLS, Cell
from .checks import exchange_for
from .iam_policy import ANONYMOUS, PolicyError, PolicyRequest, evaluate_policy
from .tokens import SigningKey
from .verifiers import Clouds, Stage, TokenRefusedError, evaluate_cel, verify
from .web import Web
from .world import World

CELL = {cell.id: cell for cell in CELLS}
ISSUER = "oidc.example.test/id/1"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
SUBJECT = "system:serviceaccount:apps:flux-tenant"


@dataclass(frozen=True)
class Breakage:
    """One input of the planned trust, changed the way a bug or a typo would change it."""

    id: str
    cell: Cell
    type_token: str
    # Picks which resource of that type to change, by a substring of its name.
    name_part: str
    change: Callable[[dict[str, Any]], None]
    stage: Stage


def _policy(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Applies a change to the parsed trust policy of a role."""

    def apply(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs["assumeRolePolicy"])
        change(document)
        inputs["assumeRolePolicy"] = json.dumps(document)

    return apply


def _conditions(statement_change: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    def apply(document: dict[str, Any]) -> None:
        for statement in document["Statement"]:
            statement_change(statement)

    return _policy(apply)


def _rename_operator(statement: dict[str, Any], new: str) -> None:
    statement["Condition"] = {new: statement["Condition"]["StringEquals"]}


def _set_sub(value: str, operator: str = "StringEquals") -> Callable[..., None]:
    def change(statement: dict[str, Any]) -> None:
        block = statement["Condition"].pop("StringEquals")
        for key in block:
            if key.endswith(":sub"):
                block[key] = value
        statement["Condition"][operator] = block

    return _conditions(change)


def _add_deny(document: dict[str, Any]) -> None:
    deny = copy.deepcopy(document["Statement"][0])
    deny["Effect"] = "Deny"
    document["Statement"] = [*document["Statement"], deny]


def _issuer_digest(issuer: str) -> str:
    """How the plan names an issuer's AWS OIDC provider: by a digest of the URL, one per issuer."""
    return hashlib.sha256(issuer.encode()).hexdigest()[:8]


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        inputs[key] = value

    return change


def _set_oidc(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        inputs["oidc"] = {**inputs["oidc"], key: value}

    return change


def _rogue_jwks(inputs: dict[str, Any]) -> None:
    inputs["oidc"] = {**inputs["oidc"], "jwksJson": json.dumps(SigningKey.generate().jwks())}


ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
FIC = "azure-native:managedidentity:FederatedIdentityCredential"
WIP = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
S3_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

BREAKAGES = [
    Breakage(
        "aws-sub-case",
        CELL["other-aws-object"],
        ROLE,
        "tenant-apps",
        _set_sub("system:serviceaccount:apps:Flux-Tenant"),
        "trust",
    ),
    Breakage(
        "aws-stringlike-no-match",
        CELL["other-aws-object"],
        ROLE,
        "tenant-apps",
        _set_sub("system:serviceaccount:apps:flux-?", "StringLike"),
        "trust",
    ),
    Breakage(
        "aws-unknown-operator",
        CELL["aks-aws-controller"],
        ROLE,
        "source-oci",
        _conditions(lambda s: _rename_operator(s, "StringEqualz")),
        "trust",
    ),
    Breakage("aws-deny", CELL["eks-aws-object"], ROLE, "tenant-apps", _policy(_add_deny), "trust"),
    Breakage(
        "aws-client-id",
        CELL["gke-aws-controller"],
        OIDC,
        _issuer_digest(
            "https://container.googleapis.com/v1/projects/acme-flux/locations/europe-west1"
            "/clusters/prod-gke"
        ),
        _set("clientIdLists", ["sigstore"]),
        "audience",
    ),
    Breakage(
        "aws-provider-url-slash",
        CELL["other-aws-controller"],
        OIDC,
        _issuer_digest("https://acme-ci-kind-issuer.s3.eu-west-1.amazonaws.com"),
        _set("url", "https://acme-ci-kind-issuer.s3.eu-west-1.amazonaws.com/"),
        "trust",
    ),
    Breakage(
        "azure-subject-case",
        CELL["aks-azure-object"],
        FIC,
        "tenant-apps",
        _set("subject", "system:serviceaccount:apps:Flux-Tenant"),
        "trust",
    ),
    Breakage(
        "azure-audience",
        CELL["other-azure-controller"],
        FIC,
        "source-oci",
        _set("audiences", ["api://AzureADTokenExchange/"]),
        "audience",
    ),
    Breakage(
        "gcp-condition",
        CELL["eks-gcp-controller"],
        WIP,
        "prod-eks",
        _set("attributeCondition", "assertion.sub == 'system:serviceaccount:apps:flux-tenant'"),
        "trust",
    ),
    Breakage(
        "gcp-mapping",
        CELL["aks-gcp-object"],
        WIP,
        "prod-aks",
        _set("attributeMapping", {"google.subject": "assertion.aud"}),
        "trust",
    ),
    Breakage(
        "gcp-allowed-audiences",
        CELL["aks-gcp-controller"],
        WIP,
        "prod-aks",
        _set_oidc("allowedAudiences", ["sts.amazonaws.com"]),
        "audience",
    ),
    Breakage(
        "gcp-uploaded-jwks", CELL["other-gcp-object"], WIP, "ci-kind", _rogue_jwks, "signature"
    ),
    Breakage(
        "gcp-impersonation-binding",
        CELL["other-gcp-object"],
        SA_MEMBER,
        "tenant-apps",
        _set("role", "roles/iam.serviceAccountUser"),
        "trust",
    ),
    Breakage(
        "gke-direct-binding",
        CELL["gke-gcp-controller"],
        PROJECT_MEMBER,
        "source-oci",
        _set("condition", {"title": "never", "expression": "false"}),
        "trust",
    ),
    Breakage(
        "s3-bucket-policy",
        CELL["other-azure-object"],
        S3_POLICY,
        "ci-kind",
        _set("policy", json.dumps({"Version": "2012-10-17", "Statement": []})),
        "discovery",
    ),
    Breakage(
        "s3-jwks-content",
        CELL["other-aws-object"],
        S3_OBJECT,
        "ci-kind-host-acme-ci-kind-issuer-jwks",
        _set("content", json.dumps(SigningKey.generate().jwks())),
        "signature",
    ),
]


def _broken_clouds(world: World, breakage: Breakage) -> Clouds:
    """The world's clouds with one resource's inputs changed, and the web serving the result."""
    changed = 0
    resources = []
    for resource in world.clouds.resources:
        if resource.type == breakage.type_token and breakage.name_part in resource.name:
            inputs = copy.deepcopy(resource.inputs)
            breakage.change(inputs)
            resources.append(replace(resource, inputs=inputs))
            changed += 1
        else:
            resources.append(resource)
    assert changed, f"no {breakage.type_token} named like {breakage.name_part}"
    # The bucket uploads are served again from the changed plan; managed issuers stay as they were.
    web = Web()
    web.serve_s3_objects(resources, str((world.config.get("aws") or {}).get("region")))
    for url, document in world.clouds.web.documents().items():
        if not document.served_by.startswith("plan:"):
            web.publish(url, document.body, document.served_by)
    return replace(world.clouds, resources=tuple(resources), web=web)


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.id)
def test_broken_trust_is_refused(world: World, breakage: Breakage) -> None:
    """With one input of the plan's trust broken, the cell's genuine token is refused."""
    exchange = exchange_for(world, world.subject(breakage.cell))
    subject = exchange.subject
    token = world.token(
        subject.cluster, namespace=subject.namespace, name=subject.name, audience=exchange.audience
    )
    clouds = _broken_clouds(world, breakage)

    verify(world.clouds, token, exchange.request)
    with pytest.raises(TokenRefusedError) as refused:
        verify(clouds, token, exchange.request)
    assert refused.value.stage == breakage.stage, refused.value.reason


FEDERATED = PolicyRequest(
    action="sts:AssumeRoleWithWebIdentity",
    principal=("Federated", PROVIDER_ARN),
    context={f"{ISSUER}:aud": ["sts.amazonaws.com"], f"{ISSUER}:sub": [SUBJECT]},
)


def _trust(condition: dict[str, Any], effect: str = "Allow") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": effect,
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }


@pytest.mark.parametrize(
    ("condition", "decision"),
    [
        ({"StringEquals": {f"{ISSUER}:sub": SUBJECT}}, "allow"),
        ({"StringEquals": {f"{ISSUER}:sub": ["system:serviceaccount:x:y", SUBJECT]}}, "allow"),
        ({"StringEquals": {f"{ISSUER}:sub": SUBJECT.upper()}}, "implicit-deny"),
        ({"StringEqualsIgnoreCase": {f"{ISSUER}:sub": SUBJECT.upper()}}, "allow"),
        ({"StringEquals": {f"{ISSUER.upper()}:SUB": SUBJECT}}, "allow"),
        ({"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:apps:*"}}, "allow"),
        ({"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:app?:flux-tenant"}}, "allow"),
        ({"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:apps:flux"}}, "implicit-deny"),
        ({"StringLike": {f"{ISSUER}:sub": "*:apps:flux-tenant"}}, "allow"),
        ({"StringNotEquals": {f"{ISSUER}:sub": SUBJECT}}, "implicit-deny"),
        (
            {
                "StringEquals": {
                    f"{ISSUER}:sub": SUBJECT,
                    f"{ISSUER}:aud": "api://AzureADTokenExchange",
                }
            },
            "implicit-deny",
        ),
        ({"StringEquals": {f"{ISSUER}:amr": "authenticated"}}, "implicit-deny"),
        ({"StringEqualsIfExists": {f"{ISSUER}:amr": "authenticated"}}, "allow"),
        ({"StringNotEquals": {f"{ISSUER}:amr": "authenticated"}}, "allow"),
        ({"Null": {f"{ISSUER}:amr": "true"}}, "allow"),
        ({"ForAnyValue:StringEquals": {f"{ISSUER}:aud": ["a", "sts.amazonaws.com"]}}, "allow"),
    ],
)
def test_iam_condition_semantics(condition: dict[str, Any], decision: str) -> None:
    """Values under a key are ORed, keys and operators ANDed, absent keys handled as IAM does."""
    policy = _trust(condition)

    assert evaluate_policy(policy, FEDERATED) == decision


def test_iam_explicit_deny_wins() -> None:
    """A matching Deny overrides any Allow."""
    allow = _trust({"StringEquals": {f"{ISSUER}:sub": SUBJECT}})
    deny = _trust({"StringLike": {f"{ISSUER}:sub": "*"}}, effect="Deny")
    policy = {**allow, "Statement": allow["Statement"] + deny["Statement"]}

    assert evaluate_policy(policy, FEDERATED) == "explicit-deny"


def test_iam_other_federated_principal_is_not_allowed() -> None:
    """A statement for another provider does not apply, whatever its conditions."""
    policy = _trust({"StringEquals": {f"{ISSUER}:sub": SUBJECT}})
    request = replace(FEDERATED, principal=("Federated", PROVIDER_ARN + "x"))

    assert evaluate_policy(policy, request) == "implicit-deny"


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualz": {f"{ISSUER}:sub": SUBJECT}},
        {"ArnLike": {"aws:FederatedProvider": PROVIDER_ARN}},
        {"StringEquals": {f"{ISSUER}:sub": "${aws:username}"}},
    ],
)
def test_iam_unmodelled_condition_fails_closed(condition: dict[str, Any]) -> None:
    """An operator or a policy variable the evaluator does not model is an error, never a pass."""
    policy = _trust(condition)

    with pytest.raises(PolicyError):
        evaluate_policy(policy, FEDERATED)


def test_iam_anonymous_read_of_a_bucket_object() -> None:
    """A bucket policy allowing s3:GetObject to everyone on one key serves that key only."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/openid/v1/jwks",
            }
        ],
    }
    read = PolicyRequest("s3:GetObject", ANONYMOUS, "arn:aws:s3:::b/openid/v1/jwks")

    assert evaluate_policy(policy, read) == "allow"
    assert evaluate_policy(policy, replace(read, resource="arn:aws:s3:::b/other")) == (
        "implicit-deny"
    )


def test_cel_mapping_and_condition() -> None:
    """celpy evaluates GCP's attribute mapping and condition over the token's claims."""
    claims = {"sub": SUBJECT, "aud": ["x"]}

    assert evaluate_cel("assertion.sub", {"assertion": claims}) == SUBJECT
    assert evaluate_cel(f"assertion.sub in ['{SUBJECT}']", {"assertion": claims})
    assert not evaluate_cel(
        "assertion.sub.startsWith('system:serviceaccount:flux-system:')", {"assertion": claims}
    )
