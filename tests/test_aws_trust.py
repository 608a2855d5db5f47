"""Tests for the AWS trust components, read back from the plan the mock engine records."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pulumi
import pytest
from fluxtrust.aws_trust import (
    AwsFederatedRole,
    AwsFederatedRoleArgs,
    AwsFederation,
    AwsOidcProvider,
    AwsOidcProviderArgs,
    AwsTrustError,
    aws_role_name,
)
from fluxtrust.plan import Plan, run_plan
from fluxtrust.trust_policy import TrustLimitError
from pulumi.runtime import settings

ACCOUNT = "123456789012"
CONFIG = {"aws": {"accountId": ACCOUNT, "region": "eu-west-1"}}
KIND = "https://issuer.example.com/ci-kind"
EKS = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
SOURCE = "system:serviceaccount:flux-system:source-controller"
TENANT = "system:serviceaccount:team-a:tenant"
ECR = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
S3 = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"

PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
INLINE = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(autouse=True)
def _forget_failed_outputs() -> Iterator[None]:
    """Drops output tasks a failed run leaves behind in the runtime's settings.

    Mock settings keep the set of pending outputs from one run to the next, so an error raised
    inside an apply would be raised again by every later run in the process.
    """
    yield
    settings.SETTINGS.outputs.clear()


def provider_arn(issuer: str) -> str:
    """The ARN IAM gives the provider of ``issuer`` in the test account."""
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.removeprefix('https://')}"


def plan_of(program: Callable[[], None]) -> Plan:
    """Runs ``program`` under the mock engine with the test account."""
    return run_plan(CONFIG, stack="test", program=program)


def role_program(
    subjects_by_issuer: Sequence[tuple[str, str]],
    *,
    policy_arns: Sequence[str] = (ECR,),
    inline_policy: str | None = None,
    role_name: str = "fluxtrust-test-source",
) -> Callable[[], None]:
    """A program declaring a provider per issuer and one role trusted through them."""

    def program() -> None:
        providers: dict[str, AwsOidcProvider] = {}
        for issuer in sorted({issuer for issuer, _ in subjects_by_issuer}):
            providers[issuer] = AwsOidcProvider(
                f"oidc-{len(providers)}", AwsOidcProviderArgs(issuer_url=issuer)
            )
        role = AwsFederatedRole(
            "source",
            AwsFederatedRoleArgs(
                role_name=role_name,
                federations=[
                    AwsFederation(providers[issuer].arn, issuer, subject)
                    for issuer, subject in subjects_by_issuer
                ],
                policy_arns=policy_arns,
                inline_policy=inline_policy,
                description="Flux source-controller",
            ),
        )
        pulumi.export("arn", role.arn)
        pulumi.export("name", role.name)

    return program


def trust_policy(plan: Plan) -> dict[str, Any]:
    """The role's trust policy, parsed from the JSON text handed to IAM."""
    text = plan.named("source-role", ROLE).inputs["assumeRolePolicy"]
    assert isinstance(text, str)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


class TestOidcProvider:
    def test_provider_url_and_client_id(self) -> None:
        """The provider's URL is the issuer exactly, its only client id sts.amazonaws.com."""

        def program() -> None:
            AwsOidcProvider("kind", AwsOidcProviderArgs(issuer_url=KIND + "/"))

        plan = plan_of(program)

        (provider,) = plan.of_type(PROVIDER)
        assert provider.name == "kind-provider"
        assert provider.parent == "kind"
        assert provider.inputs["url"] == KIND + "/"
        assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
        assert "thumbprintLists" not in provider.inputs

    def test_outputs_arn_and_issuer(self) -> None:
        """The component exposes the provider's ARN and the issuer it stands for."""

        def program() -> None:
            provider = AwsOidcProvider("kind", AwsOidcProviderArgs(issuer_url=KIND))
            pulumi.export("arn", provider.arn)
            pulumi.export("issuer", provider.issuer_url)

        plan = plan_of(program)

        assert plan.outputs == {"arn": provider_arn(KIND), "issuer": KIND}

    def test_existing_arn_declares_no_provider(self) -> None:
        """An existing provider is reused by ARN: a second one for the same URL would fail."""

        def program() -> None:
            provider = AwsOidcProvider(
                "eks", AwsOidcProviderArgs(issuer_url=EKS, existing_arn=provider_arn(EKS))
            )
            pulumi.export("arn", provider.arn)

        plan = plan_of(program)

        assert plan.of_type(PROVIDER) == []
        assert plan.outputs["arn"] == provider_arn(EKS)

    def test_existing_arn_of_another_issuer_is_refused(self) -> None:
        """A reused provider that names another issuer is an error naming the expected ARN."""

        def program() -> None:
            AwsOidcProvider(
                "eks", AwsOidcProviderArgs(issuer_url=EKS, existing_arn=provider_arn(KIND))
            )

        with pytest.raises(AwsTrustError, match=r"eks: .*not the provider of issuer"):
            plan_of(program)


class TestTrustPolicy:
    def test_exact_statement_for_one_cluster(self) -> None:
        """The policy allows web identity for the provider, pinning audience and subject."""
        plan = plan_of(role_program([(KIND, SOURCE)]))

        policy = trust_policy(plan)

        host = KIND.removeprefix("https://")
        assert policy == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn(KIND)},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{host}:aud": "sts.amazonaws.com",
                            f"{host}:sub": SOURCE,
                        }
                    },
                }
            ],
        }

    def test_two_clusters_give_two_statements(self) -> None:
        """Each cluster's provider gets its own statement, with its own condition keys."""
        plan = plan_of(role_program([(KIND, SOURCE), (EKS, SOURCE)]))

        statements = trust_policy(plan)["Statement"]

        assert [s["Principal"]["Federated"] for s in statements] == sorted(
            [provider_arn(KIND), provider_arn(EKS)]
        )
        for statement in statements:
            host = statement["Principal"]["Federated"].partition("oidc-provider/")[2]
            assert statement["Condition"]["StringEquals"] == {
                f"{host}:aud": "sts.amazonaws.com",
                f"{host}:sub": SOURCE,
            }

    def test_subjects_of_one_issuer_share_a_statement(self) -> None:
        """Two subjects through one provider are one statement listing both, sorted."""
        plan = plan_of(role_program([(KIND, TENANT), (KIND, SOURCE)]))

        (statement,) = trust_policy(plan)["Statement"]

        host = KIND.removeprefix("https://")
        assert statement["Condition"]["StringEquals"][f"{host}:sub"] == [SOURCE, TENANT]

    def test_policy_is_canonical_json(self) -> None:
        """The policy text has sorted keys and no whitespace, so previews show no diff."""
        plan = plan_of(role_program([(KIND, SOURCE), (EKS, SOURCE)]))

        text = plan.named("source-role", ROLE).inputs["assumeRolePolicy"]

        assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))

    def test_role_depends_on_its_providers(self) -> None:
        """The role waits for the providers its policy names."""
        plan = plan_of(role_program([(KIND, SOURCE), (EKS, SOURCE)]))

        role = plan.named("source-role", ROLE)

        assert {"oidc-0-provider", "oidc-1-provider"} <= set(role.depends_on)

    def test_policy_over_the_limit_names_the_role(self) -> None:
        """A trust policy beyond IAM's 2,048 characters stops the program, naming the role."""
        subjects = [(KIND, f"system:serviceaccount:tenant-{i:03}:reader") for i in range(60)]

        with pytest.raises(TrustLimitError, match=r"'fluxtrust-test-source'.*ACLSizePerRole"):
            plan_of(role_program(subjects))

    def test_no_federation_is_refused(self) -> None:
        """A role that no cluster may assume is an error, not an unusable role."""

        def program() -> None:
            AwsFederatedRole("idle", AwsFederatedRoleArgs("fluxtrust-test-idle", [], [ECR]))

        with pytest.raises(AwsTrustError, match=r"'fluxtrust-test-idle' has no federation"):
            plan_of(program)

    def test_provider_of_another_issuer_is_refused(self) -> None:
        """A federation whose provider ARN names another issuer is an error naming the role."""

        def program() -> None:
            AwsFederatedRole(
                "source",
                AwsFederatedRoleArgs(
                    "fluxtrust-test-source", [AwsFederation(provider_arn(EKS), KIND, SOURCE)], []
                ),
            )

        with pytest.raises(AwsTrustError, match=r"'fluxtrust-test-source'.*not the provider"):
            plan_of(program)


class TestRole:
    def test_explicit_name_and_outputs(self) -> None:
        """The role carries the given name (no suffix) and exposes its ARN and name."""
        plan = plan_of(role_program([(KIND, SOURCE)]))

        role = plan.named("source-role", ROLE)

        assert role.inputs["name"] == "fluxtrust-test-source"
        assert role.inputs["description"] == "Flux source-controller"
        assert role.parent == "source"
        assert plan.outputs == {
            "arn": f"arn:aws:iam::{ACCOUNT}:role/fluxtrust-test-source",
            "name": "fluxtrust-test-source",
        }

    def test_policy_attachments(self) -> None:
        """Each managed policy is attached to the role once."""
        plan = plan_of(role_program([(KIND, SOURCE)], policy_arns=[ECR, S3, ECR]))

        attachments = plan.of_type(ATTACHMENT)

        assert sorted(a.inputs["policyArn"] for a in attachments) == sorted([ECR, S3])
        assert {a.inputs["role"] for a in attachments} == {"fluxtrust-test-source"}
        assert {a.parent for a in attachments} == {"source"}

    def test_attachment_names_survive_reordering(self) -> None:
        """Reordering the managed policies renames nothing, so nothing is replaced."""

        def names(plan: Plan) -> dict[str, str]:
            return {a.inputs["policyArn"]: a.name for a in plan.of_type(ATTACHMENT)}

        first = plan_of(role_program([(KIND, SOURCE)], policy_arns=[ECR, S3]))
        second = plan_of(role_program([(KIND, SOURCE)], policy_arns=[S3, ECR]))

        assert names(first) == names(second)
        assert all(re.fullmatch(r"source-policy-[0-9a-f]{8}", n) for n in names(first).values())

    def test_inline_policy(self) -> None:
        """An inline policy is declared on the role as given."""
        document = '{"Statement":[{"Action":"kms:Decrypt","Effect":"Allow","Resource":"*"}]}'

        plan = plan_of(role_program([(KIND, SOURCE)], policy_arns=[], inline_policy=document))

        (inline,) = plan.of_type(INLINE)
        assert inline.inputs["policy"] == document
        assert inline.inputs["role"] == "fluxtrust-test-source"
        assert plan.of_type(ATTACHMENT) == []

    def test_no_inline_policy_by_default(self) -> None:
        """Without an inline policy, no RolePolicy is declared."""
        plan = plan_of(role_program([(KIND, SOURCE)]))

        assert plan.of_type(INLINE) == []

    def test_invalid_role_name_is_refused(self) -> None:
        """A name IAM would refuse is an error naming the component."""
        program = role_program([(KIND, SOURCE)], role_name="flux trust")

        with pytest.raises(AwsTrustError, match=r"source: 'flux trust' is not an IAM role name"):
            plan_of(program)

    def test_runs_are_byte_identical(self) -> None:
        """Two runs on the same input declare the same bytes."""
        program = role_program([(KIND, SOURCE), (EKS, TENANT)], policy_arns=[S3, ECR])

        first, second = plan_of(program), plan_of(program)

        assert first.dumps() == second.dumps()


class TestRoleName:
    def test_short_name(self) -> None:
        """A short name is fluxtrust-<stack>-<identity>, unchanged."""
        assert aws_role_name("dev", "source-controller") == "fluxtrust-dev-source-controller"

    def test_long_name_is_cut_with_a_hash(self) -> None:
        """A name over 64 characters is cut and ends with a hash, keeping names distinct."""
        identity = "a" * 30

        first = aws_role_name("production-eu-west-1-blue-green", identity)
        second = aws_role_name("production-eu-west-1-blue-greeN", identity)

        assert len(first) <= 64
        assert re.fullmatch(r"fluxtrust-production-eu-west-1-blue-green-a+-[0-9a-f]{8}", first)
        assert first != second

    def test_refused_characters_are_replaced(self) -> None:
        """Characters IAM refuses become '-', and a hash tells the name from a lookalike."""
        name = aws_role_name("dev/eu", "source")

        assert re.fullmatch(r"fluxtrust-dev-eu-source-[0-9a-f]{8}", name)
        assert name != aws_role_name("dev-eu", "source")

    @pytest.mark.parametrize("stack", ["dev", "x" * 80, "ümlaut", "a b"])
    def test_always_valid(self, stack: str) -> None:
        """Whatever the stack name, the result is a valid IAM role name."""
        assert re.fullmatch(r"[\w+=,.@-]{1,64}", aws_role_name(stack, "tenant"), re.ASCII)
