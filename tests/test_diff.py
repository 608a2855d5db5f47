"""Tests for the offline diff: detection, key paths, replacement, interruptions, report, command."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from fluxtrust import cli
from fluxtrust.config import load_stack_file
from fluxtrust.diff import (
    REPLACE_RULES,
    TRUST_RULES,
    DiffError,
    PlanDiff,
    ResourceChange,
    diff_plans,
    load_at_revision,
)
from fluxtrust.plan import Plan, PlannedResource, run_plan

REPO = Path(__file__).resolve().parents[1]

OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROLE = "aws:iam/role:Role"
CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
POOL_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
S3_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
SA_PATCH = "kubernetes:core/v1:ServiceAccountPatch"

ISSUER_A = "https://oidc.eks.eu-west-1.amazonaws.com/id/AAAA"
ISSUER_B = "https://oidc.eks.eu-west-1.amazonaws.com/id/BBBB"
SOURCE = "system:serviceaccount:flux-system:source-controller"
TENANT = "system:serviceaccount:apps:flux-tenant"


# ------------------------------------------------------------------------------------------------
# Helpers: plans built by hand


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    parent: str | None = None,
    custom: bool = True,
    delete_before_replace: bool = False,
    replace_on_changes: tuple[str, ...] = (),
) -> PlannedResource:
    """A planned resource, with the URN the mock engine would give it."""
    qualified = f"fluxtrust:graph:TrustGraph${type_}" if parent else type_
    return PlannedResource(
        type=type_,
        name=name,
        parent=parent,
        custom=custom,
        inputs=inputs or {},
        urn=f"urn:pulumi:dev::fluxtrust::{qualified}::{name}",
        delete_before_replace=delete_before_replace,
        replace_on_changes=replace_on_changes,
    )


def plan(*resources: PlannedResource, outputs: dict[str, Any] | None = None) -> Plan:
    """A plan of stack dev holding these resources and outputs."""
    return Plan(stack="dev", resources=list(resources), outputs=outputs or {})


def only_change(before: PlannedResource, after: PlannedResource) -> ResourceChange:
    """The one change between two plans that each hold one resource."""
    result = diff_plans(plan(before), plan(after))
    assert not result.added
    assert not result.removed
    assert len(result.changed) == 1
    return result.changed[0]


def trust_policy(*statements: tuple[str, list[str]]) -> str:
    """An IAM role trust policy admitting (issuer, subjects) pairs, as the program writes it."""
    body = []
    for issuer, subjects in statements:
        host = issuer.removeprefix("https://")
        body.append(
            {
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:aud": "sts.amazonaws.com",
                        f"{host}:sub": subjects if len(subjects) > 1 else subjects[0],
                    }
                },
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{host}"},
            }
        )
    return json.dumps({"Statement": body, "Version": "2012-10-17"}, separators=(",", ":"))


def role(policy: str, name: str = "fluxtrust-dev-source-oci") -> PlannedResource:
    """The AWS role of identity source-oci with a given trust policy."""
    return resource(
        ROLE, "fluxtrust-source-oci-aws-role", {"assumeRolePolicy": policy, "name": name}
    )


def jwks(*kids: str) -> str:
    """JWKS text holding keys with these ids."""
    keys = [{"e": "AQAB", "kid": kid, "kty": "RSA", "n": "xyz", "use": "sig"} for kid in kids]
    return json.dumps({"keys": keys}, separators=(",", ":"))


def pool_provider(condition: str | None, jwks_json: str | None = None) -> PlannedResource:
    """A GCP workload identity pool provider for ISSUER_A."""
    oidc: dict[str, Any] = {"issuerUri": ISSUER_A}
    if jwks_json is not None:
        oidc["jwksJson"] = jwks_json
    inputs: dict[str, Any] = {
        "oidc": oidc,
        "project": "acme-flux",
        "workloadIdentityPoolId": "flux-clusters",
        "workloadIdentityPoolProviderId": "prod-eks-1234abcd",
    }
    if condition is not None:
        inputs["attributeCondition"] = condition
    return resource(POOL_PROVIDER, "fluxtrust-prod-eks-gcp-provider", inputs)


def credential(issuer: str, subject: str) -> PlannedResource:
    """An Azure federated identity credential on identity source-oci."""
    return resource(
        CREDENTIAL,
        "fluxtrust-source-oci-azure-fic-1",
        {
            "audiences": ["api://AzureADTokenExchange"],
            "federatedIdentityCredentialResourceName": "fluxtrust-dev-source-oci-prod-eks",
            "issuer": issuer,
            "resourceGroupName": "rg-flux",
            "resourceName": "fluxtrust-dev-source-oci",
            "subject": subject,
        },
    )


# ------------------------------------------------------------------------------------------------
# Detection and key paths


class TestDetection:
    def test_identical_plans_differ_in_nothing(self) -> None:
        """Two equal plans give no added, removed or changed resource, and exit status 0."""
        provider = resource(OIDC_PROVIDER, "p", {"url": ISSUER_A})

        result = diff_plans(plan(provider), plan(provider))

        assert not result.has_changes
        assert result.exit_status == 0

    def test_resources_are_matched_by_type_and_name(self) -> None:
        """The same name under another type token is one removal and one addition."""
        before = plan(resource(OIDC_PROVIDER, "same", {"url": ISSUER_A}))
        after = plan(resource(ROLE, "same", {"name": "r"}))

        result = diff_plans(before, after)

        assert [(r.type, r.name) for r in result.added] == [(ROLE, "same")]
        assert [(r.type, r.name) for r in result.removed] == [(OIDC_PROVIDER, "same")]
        assert result.changed == ()
        assert result.exit_status == 1

    def test_nested_inputs_are_dotted_paths(self) -> None:
        """A nested input is named by its dotted path, e.g. oidc.issuerUri."""
        before = pool_provider(None)
        after = resource(
            POOL_PROVIDER, before.name, {**before.inputs, "oidc": {"issuerUri": ISSUER_B}}
        )

        change = only_change(before, after)

        assert change.keys == ("oidc.issuerUri",)

    def test_keys_with_dots_are_quoted(self) -> None:
        """An annotation key with dots is quoted, so the path stays unambiguous."""
        arn = "eks.amazonaws.com/role-arn"
        before = resource(SA_PATCH, "sa", {"metadata": {"annotations": {arn: "a"}, "name": "x"}})
        after = resource(SA_PATCH, "sa", {"metadata": {"annotations": {arn: "b"}, "name": "x"}})

        change = only_change(before, after)

        assert change.keys == ('metadata.annotations["eks.amazonaws.com/role-arn"]',)

    def test_list_items_by_index_and_resized_lists_whole(self) -> None:
        """An item of a same-length list is named by index; a list that grows is named whole."""
        before = resource("example:index:Thing", "t", {"a": [1, 2], "b": [1]})
        after = resource("example:index:Thing", "t", {"a": [1, 3], "b": [1, 2]})

        change = only_change(before, after)

        assert change.keys == ("a[1]", "b")

    def test_added_and_removed_inputs_are_listed(self) -> None:
        """An input present on one side only is a changed key."""
        before = resource("example:index:Thing", "t", {"gone": 1, "kept": 1})
        after = resource("example:index:Thing", "t", {"kept": 1, "new": 1})

        change = only_change(before, after)

        assert change.keys == ("gone", "new")

    def test_changed_outputs_are_listed_after_resources(self) -> None:
        """Outputs that differ are listed by path with how they changed."""
        before = plan(outputs={"issuers": {"a": {"issuerUrl": ISSUER_A}}, "old": 1})
        after = plan(outputs={"issuers": {"a": {"issuerUrl": ISSUER_B}}, "new": 1})

        result = diff_plans(before, after)

        assert result.outputs == (
            ("changed", "issuers.a.issuerUrl"),
            ("added", "new"),
            ("removed", "old"),
        )
        assert result.exit_status == 1

    def test_parent_type_change_moves_the_urn(self) -> None:
        """The same type and name under another parent type is a new URN: a replacement."""
        before = resource("example:index:Thing", "t")
        after = resource("example:index:Thing", "t", parent="fluxtrust")

        change = only_change(before, after)

        assert change.keys == ("(urn)",)
        assert change.replace


class TestJsonText:
    def test_policy_text_change_lists_json_paths(self) -> None:
        """A changed JSON policy is one changed key, with the JSON paths that differ."""
        before = role(trust_policy((ISSUER_A, [SOURCE])))
        after = role(trust_policy((ISSUER_A, [TENANT])))

        change = only_change(before, after)

        assert change.keys == ("assumeRolePolicy",)
        assert change.json_paths == {
            "assumeRolePolicy": (
                "Statement[0].Condition.StringEquals"
                '["oidc.eks.eu-west-1.amazonaws.com/id/AAAA:sub"]',
            )
        }

    def test_reformatted_json_is_a_text_change_without_json_paths(self) -> None:
        """Equivalent JSON in other formatting changes the text but no JSON path."""
        policy = trust_policy((ISSUER_A, [SOURCE]))
        spaced = json.dumps(json.loads(policy), indent=2)

        change = only_change(role(policy), role(spaced))

        assert change.keys == ("assumeRolePolicy",)
        assert change.json_paths == {"assumeRolePolicy": ()}
        assert not change.interrupts

    def test_plain_text_has_no_json_paths(self) -> None:
        """Text that is not JSON on both sides has no JSON paths."""
        before = resource("example:index:Thing", "t", {"description": "one"})
        after = resource("example:index:Thing", "t", {"description": "{two"})

        change = only_change(before, after)

        assert change.json_paths == {}

    def test_nested_json_text_is_parsed(self) -> None:
        """JSON text nested in an object (oidc.jwksJson) is compared as JSON."""
        before = pool_provider(None, jwks("k1"))
        after = pool_provider(None, jwks("k2"))

        change = only_change(before, after)

        assert change.keys == ("oidc.jwksJson",)
        assert change.json_paths["oidc.jwksJson"] == ("keys[0].kid",)


# ------------------------------------------------------------------------------------------------
# Replacement


def _first_forced_change(type_: str) -> tuple[PlannedResource, PlannedResource]:
    key = REPLACE_RULES[type_].forces[0]
    head, _, tail = key.partition(".")
    if tail:
        return resource(type_, "r", {head: {tail: "a"}}), resource(type_, "r", {head: {tail: "b"}})
    return resource(type_, "r", {key: "a"}), resource(type_, "r", {key: "b"})


class TestReplace:
    @pytest.mark.parametrize("type_", sorted(REPLACE_RULES))
    def test_each_listed_input_forces_replacement(self, type_: str) -> None:
        """Changing the first input the table lists for a type replaces the resource."""
        before, after = _first_forced_change(type_)

        change = only_change(before, after)

        assert change.replace
        assert change.replace_keys == change.keys

    def test_oidc_provider_url_is_replaced_create_before_delete(self) -> None:
        """A new provider URL replaces the provider, creating the new one first."""
        before = resource(
            OIDC_PROVIDER, "p", {"clientIdLists": ["sts.amazonaws.com"], "url": ISSUER_A}
        )
        after = resource(
            OIDC_PROVIDER, "p", {"clientIdLists": ["sts.amazonaws.com"], "url": ISSUER_B}
        )

        change = only_change(before, after)

        assert change.replace
        assert change.replace_keys == ("url",)
        assert not change.delete_before_replace

    def test_updatable_input_is_an_update(self) -> None:
        """A trust policy is updated in place: no replacement."""
        change = only_change(
            role(trust_policy((ISSUER_A, [SOURCE]))),
            role(trust_policy((ISSUER_A, [SOURCE, TENANT]))),
        )

        assert not change.replace
        assert change.replace_keys == ()

    def test_resource_replace_on_changes_forces_replacement(self) -> None:
        """An input listed in the resource's own replaceOnChanges replaces it."""
        before = resource("example:index:Thing", "t", {"size": 1}, replace_on_changes=("size",))
        after = resource("example:index:Thing", "t", {"size": 2}, replace_on_changes=("size",))

        change = only_change(before, after)

        assert change.replace
        assert change.replace_keys == ("size",)

    def test_replace_on_changes_wildcards(self) -> None:
        """`*` and `list[*].field` in replaceOnChanges match the paths beneath them."""
        options = ("items[*].id",)
        before = resource(
            "example:index:Thing", "t", {"items": [{"id": 1, "x": 1}]}, replace_on_changes=options
        )
        after = resource(
            "example:index:Thing", "t", {"items": [{"id": 2, "x": 2}]}, replace_on_changes=options
        )
        star_before = resource(
            "example:index:Thing", "s", {"a": {"b": 1}}, replace_on_changes=("*",)
        )
        star_after = resource(
            "example:index:Thing", "s", {"a": {"b": 2}}, replace_on_changes=("*",)
        )

        change = only_change(before, after)
        star = only_change(star_before, star_after)

        assert change.replace_keys == ("items[0].id",)
        assert star.replace_keys == ("a.b",)

    def test_delete_before_replace_option(self) -> None:
        """A resource with deleteBeforeReplace is replaced delete-first, and says why."""
        before = resource(
            ROLE_ASSIGNMENT,
            "ra",
            {"principalId": "p1", "roleAssignmentName": "g1", "scope": "/s"},
            delete_before_replace=True,
        )
        after = resource(
            ROLE_ASSIGNMENT,
            "ra",
            {"principalId": "p2", "roleAssignmentName": "g2", "scope": "/s"},
            delete_before_replace=True,
        )

        change = only_change(before, after)

        assert change.replace
        assert change.delete_before_replace
        assert change.delete_first_because == "the resource's deleteBeforeReplace option"

    def test_replacement_that_keeps_the_name_deletes_first(self) -> None:
        """Moving a managed identity to another location keeps its name: it is deleted first."""
        inputs = {"location": "westeurope", "resourceGroupName": "rg", "resourceName": "id"}
        before = resource(IDENTITY, "id", inputs)
        after = resource(IDENTITY, "id", {**inputs, "location": "northeurope"})

        change = only_change(before, after)

        assert change.replace
        assert change.delete_before_replace
        assert change.delete_first_because == "the new object keeps the old one's name"

    def test_kubernetes_namespace_forces_replacement(self) -> None:
        """A ServiceAccount moved to another namespace is replaced."""
        before = resource(SA_PATCH, "sa", {"metadata": {"name": "x", "namespace": "a"}})
        after = resource(SA_PATCH, "sa", {"metadata": {"name": "x", "namespace": "b"}})

        change = only_change(before, after)

        assert change.replace_keys == ("metadata.namespace",)

    def test_options_recorded_by_the_plan_drive_replacement(self) -> None:
        """A program's replaceOnChanges and deleteBeforeReplace, run through the plan, decide it."""

        def program(description: str) -> Callable[[], None]:
            def declare() -> None:
                aws.iam.Role(
                    "r",
                    name="fixed",
                    assume_role_policy="{}",
                    description=description,
                    opts=pulumi.ResourceOptions(
                        replace_on_changes=["description"], delete_before_replace=True
                    ),
                )

            return declare

        before = run_plan({}, stack="dev", program=program("one"))
        after = run_plan({}, stack="dev", program=program("two"))

        change = only_change(before.named("r"), after.named("r"))

        assert change.replace_keys == ("description",)
        assert change.delete_before_replace


# ------------------------------------------------------------------------------------------------
# Interruptions


class TestInterruptions:
    def test_dropped_subject(self) -> None:
        """A trust policy that stops admitting a subject interrupts that subject's access."""
        before = role(trust_policy((ISSUER_A, [SOURCE, TENANT])))
        after = role(trust_policy((ISSUER_A, [SOURCE])))

        change = only_change(before, after)

        assert change.interrupts == (
            f"stops trusting subject {TENANT} from {ISSUER_A}: its tokens are refused",
        )

    def test_added_subject_or_issuer_interrupts_nothing(self) -> None:
        """Trusting more never interrupts access."""
        before = role(trust_policy((ISSUER_A, [SOURCE])))
        after = role(trust_policy((ISSUER_A, [SOURCE, TENANT]), (ISSUER_B, [SOURCE])))

        change = only_change(before, after)

        assert change.interrupts == ()

    def test_dropped_issuer_is_one_reason(self) -> None:
        """Dropping an issuer is reported once, not once per subject and audience."""
        before = role(trust_policy((ISSUER_A, [SOURCE, TENANT]), (ISSUER_B, [SOURCE])))
        after = role(trust_policy((ISSUER_B, [SOURCE])))

        change = only_change(before, after)

        assert change.interrupts == (
            f"stops trusting issuer {ISSUER_A}: every token it issues is refused",
        )

    def test_credential_issuer_change_drops_the_old_issuer(self) -> None:
        """An Azure credential moved to a new issuer stops trusting the old one."""
        change = only_change(credential(ISSUER_A, SOURCE), credential(ISSUER_B, SOURCE))

        assert not change.replace
        assert change.interrupts == (
            f"stops trusting issuer {ISSUER_A}: every token it issues is refused",
        )

    def test_attribute_condition_that_drops_a_subject(self) -> None:
        """A GCP provider whose condition stops listing a subject refuses it."""
        before = pool_provider(f"assertion.sub in ['{TENANT}', '{SOURCE}']")
        after = pool_provider(f"assertion.sub in ['{SOURCE}']")

        change = only_change(before, after)

        assert change.interrupts == (
            f"stops trusting subject {TENANT} from {ISSUER_A}: its tokens are refused",
        )

    def test_attribute_condition_that_narrows_every_subject(self) -> None:
        """Adding a condition to a provider that admitted every subject narrows its trust."""
        change = only_change(pool_provider(None), pool_provider(f"assertion.sub == '{SOURCE}'"))

        assert change.interrupts == (
            f"narrows the trust of {ISSUER_A} to listed subjects: before, every subject was "
            "admitted",
        )

    def test_jwks_that_loses_a_kid(self) -> None:
        """A JWKS copy that loses a key id breaks the tokens signed with that key."""
        change = only_change(
            pool_provider(None, jwks("old", "new")), pool_provider(None, jwks("new"))
        )

        assert change.interrupts == (
            "drops key old from the JWKS in oidc.jwksJson: tokens signed with it stop verifying",
        )

    def test_jwks_that_gains_a_kid_interrupts_nothing(self) -> None:
        """Publishing a new key next to the old one is the safe first step of a rotation."""
        change = only_change(
            pool_provider(None, jwks("old")), pool_provider(None, jwks("old", "new"))
        )

        assert change.interrupts == ()

    def test_published_jwks_object_that_loses_a_kid(self) -> None:
        """The JWKS published in a bucket is checked like any other copy."""
        inputs = {"bucket": "b", "key": "openid/v1/jwks"}
        before = resource(S3_OBJECT, "jwks", {**inputs, "content": jwks("k1", "k2")})
        after = resource(S3_OBJECT, "jwks", {**inputs, "content": jwks("k2")})

        change = only_change(before, after)

        assert change.interrupts == (
            "drops key k1 from the JWKS in content: tokens signed with it stop verifying",
        )

    def test_removed_oidc_provider(self) -> None:
        """Removing an OIDC provider refuses every token of its issuer."""
        result = diff_plans(plan(resource(OIDC_PROVIDER, "p", {"url": ISSUER_A})), plan())

        assert result.removed[0].interrupts == (
            f"deletes the IAM OIDC provider for {ISSUER_A}: AWS refuses every token of that issuer",
        )

    def test_removed_resources_that_hold_no_trust(self) -> None:
        """A removed component, or a bucket object that is not an issuer document, is harmless."""
        before = plan(
            resource("fluxtrust:aws:OidcProvider", "c", custom=False),
            resource(S3_OBJECT, "o", {"bucket": "b", "key": "index.html"}),
        )

        result = diff_plans(before, plan())

        assert [r.interrupts for r in result.removed] == [(), ()]
        assert result.interruptions == 0

    def test_delete_before_replace_of_a_trusted_resource(self) -> None:
        """A trusted resource deleted before its replacement exists interrupts access meanwhile."""
        common = {"roleDefinitionId": "/r/acrpull", "scope": "/s"}
        before = resource(
            ROLE_ASSIGNMENT,
            "ra",
            {**common, "principalId": "p1", "roleAssignmentName": "g1"},
            delete_before_replace=True,
        )
        after = resource(
            ROLE_ASSIGNMENT,
            "ra",
            {**common, "principalId": "p2", "roleAssignmentName": "g2"},
            delete_before_replace=True,
        )

        change = only_change(before, after)

        assert change.interrupts == (
            "deletes the role assignment g1 on /s before creating its replacement (the "
            "resource's deleteBeforeReplace option): in between, the identity loses that role",
            "revokes role /r/acrpull for p1 on /s",
        )

    def test_renamed_role_strands_workloads_holding_its_arn(self) -> None:
        """A role replaced under a new name leaves workloads with the old ARN without access."""
        policy = trust_policy((ISSUER_A, [SOURCE]))

        change = only_change(role(policy, name="old"), role(policy, name="new"))

        assert change.replace
        assert not change.delete_before_replace
        assert change.interrupts == (
            "replaces the IAM role old with a new object: workloads still holding the old ARN "
            "(eks.amazonaws.com/role-arn, AWS_ROLE_ARN) lose access when it is deleted",
        )

    def test_revoked_binding(self) -> None:
        """A GCP role granted to another member revokes it from the first."""
        inputs = {"member": "principal://a", "project": "p", "role": "roles/x"}
        before = resource(PROJECT_MEMBER, "m", inputs)
        after = resource(PROJECT_MEMBER, "m", {**inputs, "member": "principal://b"})

        change = only_change(before, after)

        assert change.interrupts == ("revokes roles/x for principal://a in project p",)

    def test_removed_annotation(self) -> None:
        """A ServiceAccount that loses an annotation loses the identity it names."""
        meta = {"name": "source-controller", "namespace": "flux-system"}
        before = resource(SA_PATCH, "sa", {"metadata": {**meta, "annotations": {"a.io/x": "1"}}})
        after = resource(SA_PATCH, "sa", {"metadata": {**meta, "annotations": {}}})

        change = only_change(before, after)

        assert change.interrupts == (
            "removes annotation a.io/x on flux-system/source-controller: Flux no longer finds the "
            "identity it names",
        )

    def test_every_trust_rule_names_a_consequence(self) -> None:
        """Each trust rule fills its description from inputs and says what stops working."""
        for type_, rule in TRUST_RULES.items():
            assert rule.what, type_
            assert rule.consequence, type_


# ------------------------------------------------------------------------------------------------
# Report and JSON


def _sample() -> PlanDiff:
    before = plan(
        resource(OIDC_PROVIDER, "old-provider", {"url": ISSUER_A}),
        role(trust_policy((ISSUER_A, [SOURCE]), (ISSUER_B, [SOURCE]))),
        outputs={"issuers": {"prod-eks": ISSUER_A}},
    )
    after = plan(
        resource(OIDC_PROVIDER, "new-provider", {"url": ISSUER_B}),
        role(trust_policy((ISSUER_B, [SOURCE]))),
        outputs={"issuers": {"prod-eks": ISSUER_B}},
    )
    return diff_plans(before, after, before_label="old.yaml", after_label="new.yaml")


class TestReport:
    def test_json_shape(self) -> None:
        """--json is one object: sides, added, removed, changed, outputs and summary."""
        document = _sample().to_json()

        assert set(document) == {
            "before",
            "after",
            "added",
            "removed",
            "changed",
            "outputs",
            "summary",
        }
        assert (document["before"], document["after"]) == ("old.yaml", "new.yaml")
        assert document["added"] == [
            {"type": OIDC_PROVIDER, "name": "new-provider", "interrupts": []}
        ]
        assert document["removed"][0]["interrupts"]
        assert set(document["changed"][0]) >= {
            "type",
            "name",
            "keys",
            "replace",
            "deleteBeforeReplace",
            "interrupts",
        }
        assert document["changed"][0]["keys"] == ["assumeRolePolicy"]
        assert document["outputs"] == [{"path": "issuers.prod-eks", "change": "changed"}]
        assert document["summary"] == {
            "added": 1,
            "removed": 1,
            "changed": 1,
            "replaced": 0,
            "interrupting": 2,
            "outputsChanged": 1,
        }

    def test_report_groups_changes_with_their_flags(self) -> None:
        """The report lists added, removed, changed, outputs, each with its flags, then counts."""
        text = _sample().render()

        assert text.splitlines()[0] == "fluxtrust diff old.yaml -> new.yaml"
        assert text.index("Added (1)") < text.index("Removed (1)") < text.index("Changed (1)")
        assert text.index("Changed (1)") < text.index("Outputs changed (1)")
        assert f"  + {OIDC_PROVIDER}  new-provider" in text
        assert f"  - {OIDC_PROVIDER}  old-provider" in text
        assert f"  ~ {ROLE}  fluxtrust-source-oci-aws-role" in text
        assert "changed: assumeRolePolicy (JSON text changed: Statement)" in text
        assert f"! interrupts access: stops trusting issuer {ISSUER_A}" in text
        assert "  ~ issuers.prod-eks" in text
        assert text.endswith(
            "1 added, 1 removed, 1 changed (0 replaced), 2 interrupting access, 1 outputs changed\n"
        )

    def test_report_of_a_replacement(self) -> None:
        """A replacement is marked +- with its order and the keys that force it."""
        inputs = {"location": "westeurope", "resourceGroupName": "rg", "resourceName": "id"}
        result = diff_plans(
            plan(resource(IDENTITY, "id", inputs)),
            plan(resource(IDENTITY, "id", {**inputs, "location": "northeurope"})),
        )

        text = result.render()

        assert f"  +- {IDENTITY}  id" in text
        assert (
            "replace (delete-before-replace, the new object keeps the old one's name) because "
            "of: location"
        ) in text
        assert "! interrupts access: deletes the managed identity id before creating" in text

    def test_report_without_changes(self) -> None:
        """An empty diff says so."""
        text = diff_plans(plan(), plan()).render()

        assert "No changes" in text
        assert text.endswith("0 outputs changed\n")


# ------------------------------------------------------------------------------------------------
# The command


SMALL_STACK: dict[str, Any] = {
    "config": {
        "fluxtrust:aws": {"accountId": "123456789012", "region": "eu-west-1"},
        "fluxtrust:clusters": [{"name": "prod-eks", "type": "eks", "issuer": {"url": ISSUER_A}}],
        "fluxtrust:identities": [
            {
                "name": "source-oci",
                "level": "controller",
                "clusters": ["prod-eks"],
                "serviceAccount": "flux-system/source-controller",
                "aws": {
                    "policyArns": ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]
                },
            }
        ],
    }
}


def write_stack(path: Path, document: dict[str, Any]) -> Path:
    """Writes a stack file (and a Pulumi.yaml beside it, marking the project)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "Pulumi.yaml").write_text("name: fluxtrust\nruntime: python\n")
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def with_issuer(url: str) -> dict[str, Any]:
    """The small stack with another issuer URL."""
    document = copy.deepcopy(SMALL_STACK)
    document["config"]["fluxtrust:clusters"][0]["issuer"]["url"] = url
    return document


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Runs `python -m fluxtrust` in-process; returns (status, stdout, stderr)."""
    status = cli.main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def git(repo: Path, *args: str) -> None:
    """Runs git in a test repository, as a throwaway identity."""
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


class TestCommand:
    def test_unchanged_exits_0(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The same configuration on both sides prints no changes and exits 0."""
        stack = write_stack(tmp_path / "Pulumi.dev.yaml", SMALL_STACK)

        status, out, _ = run_cli(["diff", "--config", str(stack), "--against", str(stack)], capsys)

        assert status == 0
        assert "No changes" in out

    def test_changed_exits_1(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A changed configuration lists the changes and exits 1."""
        old = write_stack(tmp_path / "old.yaml", SMALL_STACK)
        new = write_stack(tmp_path / "Pulumi.dev.yaml", with_issuer(ISSUER_B))

        status, out, _ = run_cli(["diff", "--config", str(new), "--against", str(old)], capsys)

        assert status == 1
        assert f"stops trusting issuer {ISSUER_A}" in out

    def test_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--json prints one JSON object; both sides are planned as the current stack."""
        old = write_stack(tmp_path / "Pulumi.old.yaml", SMALL_STACK)
        new = write_stack(tmp_path / "Pulumi.dev.yaml", with_issuer(ISSUER_B))

        status, out, _ = run_cli(
            ["diff", "--config", str(new), "--against", str(old), "--json"], capsys
        )
        document = json.loads(out)

        assert status == 1
        assert document["summary"]["interrupting"] >= 1
        # Planned under one stack name, the role keeps its name: an update, not a replacement.
        changed = {c["type"]: c for c in document["changed"]}
        assert changed[ROLE]["replace"] is False

    def test_invalid_configuration_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An invalid side is a configuration error: exit 2 with the key path, no traceback."""
        old = write_stack(tmp_path / "old.yaml", with_issuer("http://insecure.example"))
        new = write_stack(tmp_path / "Pulumi.dev.yaml", SMALL_STACK)

        status, out, err = run_cli(["diff", "--config", str(new), "--against", str(old)], capsys)

        assert status == 2
        assert out == ""
        assert "fluxtrust:clusters[0].issuer.url" in err

    def test_missing_against_file_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A missing earlier file is a configuration error."""
        new = write_stack(tmp_path / "Pulumi.dev.yaml", SMALL_STACK)

        status, _, err = run_cli(
            ["diff", "--config", str(new), "--against", str(tmp_path / "nope.yaml")], capsys
        )

        assert status == 2
        assert "cannot be read" in err

    def test_against_and_rev_are_exclusive(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Exactly one earlier side is accepted."""
        with pytest.raises(SystemExit, match="2"):
            cli.main(["diff", "--against", "a.yaml", "--rev", "HEAD"])

        assert "not allowed with argument" in capsys.readouterr().err


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose project (in a subdirectory) commits the small stack once."""
    git(tmp_path, "init", "-q")
    write_stack(tmp_path / "infra" / "stacks" / "Pulumi.dev.yaml", SMALL_STACK)
    (tmp_path / "infra" / "stacks" / "Pulumi.yaml").unlink()
    (tmp_path / "infra" / "Pulumi.yaml").write_text("name: fluxtrust\nruntime: python\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "stack")
    return tmp_path


class TestRevision:
    def test_rev_compares_with_the_committed_file(
        self, repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--rev plans the stack file as committed, and the working copy as the new side."""
        stack = repo / "infra" / "stacks" / "Pulumi.dev.yaml"
        stack.write_text(yaml.safe_dump(with_issuer(ISSUER_B)))

        status, out, _ = run_cli(
            ["diff", "--config", str(stack), "--rev", "HEAD", "--json"], capsys
        )
        document = json.loads(out)

        assert status == 1
        assert document["before"] == "infra/stacks/Pulumi.dev.yaml@HEAD"
        assert any(c["type"] == ROLE for c in document["changed"])

    def test_rev_unchanged_exits_0(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A working copy equal to the revision diffs empty."""
        stack = repo / "infra" / "stacks" / "Pulumi.dev.yaml"

        status, _, _ = run_cli(["diff", "--config", str(stack), "--rev", "HEAD"], capsys)

        assert status == 0

    def test_unknown_revision_exits_2(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A revision git does not know is reported with git's message, exit 2."""
        stack = repo / "infra" / "stacks" / "Pulumi.dev.yaml"

        status, _, err = run_cli(["diff", "--config", str(stack), "--rev", "nosuchbranch"], capsys)

        assert status == 2
        assert "git show nosuchbranch:infra/stacks/Pulumi.dev.yaml failed" in err

    def test_option_like_revision_is_refused(self, repo: Path) -> None:
        """A revision starting with a dash is refused before git sees it."""
        with pytest.raises(DiffError, match="is not a revision"):
            load_at_revision(repo / "infra" / "stacks" / "Pulumi.dev.yaml", "--output=x")

    def test_outside_a_repository(self, tmp_path: Path) -> None:
        """A stack file outside any git work tree cannot be read at a revision."""
        stack = write_stack(tmp_path / "Pulumi.dev.yaml", SMALL_STACK)

        with pytest.raises(DiffError, match="git rev-parse --show-toplevel failed"):
            load_at_revision(stack, "HEAD")


# ------------------------------------------------------------------------------------------------
# End to end, on a copy of the default stack

EKS_ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
NEW_EKS_ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/REBUILT0000000000000000000000001"


@pytest.fixture(scope="module")
def default_config(project: Path) -> dict[str, Any]:
    """The default stack's fluxtrust values."""
    return load_stack_file(project / "stacks" / "Pulumi.dev.yaml")


@pytest.fixture(scope="module")
def default_plan(project: Path, default_config: dict[str, Any]) -> Plan:
    """The default stack planned once for the module."""
    return run_plan(default_config, stack="dev", project_dir=project)


def plan_config(project: Path, config: dict[str, Any]) -> Plan:
    """Plans a variant of the default stack, as stack dev of the copied project."""
    return run_plan(config, stack="dev", project_dir=project)


def rebuilt_eks(config: dict[str, Any], *, keep_previous: bool) -> dict[str, Any]:
    """The configuration after the prod-eks cluster was rebuilt with a new issuer."""
    changed = copy.deepcopy(config)
    for cluster in changed["clusters"]:
        if cluster["name"] == "prod-eks":
            cluster["issuer"] = {"url": NEW_EKS_ISSUER}
            # The rebuilt cluster comes with its own IAM OIDC provider; while the old issuer is
            # still trusted, its provider is reused too.
            old_arn = cluster["awsOidcProviderArn"]
            new_arn = old_arn.replace(
                EKS_ISSUER.removeprefix("https://"), NEW_EKS_ISSUER.removeprefix("https://")
            )
            cluster["awsOidcProviderArn"] = [new_arn, old_arn] if keep_previous else new_arn
            if keep_previous:
                cluster["previousIssuers"] = [EKS_ISSUER]
    return changed


def depends_on_issuer(plan_: Plan, issuer: str) -> set[tuple[str, str]]:
    """Resources that depend on one issuer: those naming it, and the components holding only those.

    A resource depends on the issuer when its inputs mention the issuer's host path, or when its
    name carries the issuer's digest (the 8 hex digits fluxtrust names per-issuer components
    with); a component depends on it when every resource beneath it does.
    """
    host_path = issuer.removeprefix("https://")
    digest = hashlib.sha256(issuer.encode()).hexdigest()[:8]
    direct = {
        (r.type, r.name)
        for r in plan_.resources
        if host_path in json.dumps(r.inputs) or digest in r.name
    }
    children: dict[str, list[PlannedResource]] = {}
    for r in plan_.resources:
        if r.parent is not None:
            children.setdefault(r.parent, []).append(r)

    def descendants(name: str) -> Iterator[PlannedResource]:
        for child in children.get(name, []):
            yield child
            yield from descendants(child.name)

    holders = {
        (r.type, r.name)
        for r in plan_.resources
        if not r.custom
        and (below := list(descendants(r.name)))
        and all((d.type, d.name) in direct or not d.custom for d in below)
        and any((d.type, d.name) in direct for d in below)
    }
    return direct | holders


@pytest.fixture(scope="module")
def rebuilt(
    project: Path, default_config: dict[str, Any], default_plan: Plan
) -> tuple[Plan, PlanDiff]:
    """The default stack after prod-eks was rebuilt with a new issuer, and its diff."""
    after = plan_config(project, rebuilt_eks(default_config, keep_previous=False))
    return after, diff_plans(default_plan, after)


class TestDefaultStack:
    def test_unchanged_config_diffs_empty(
        self, project: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The default stack against itself: no changes, exit 0."""
        stack = project / "stacks" / "Pulumi.dev.yaml"

        status, out, _ = run_cli(["diff", "--config", str(stack), "--against", str(stack)], capsys)

        assert status == 0, out
        assert "No changes" in out

    def test_reordering_diffs_empty(
        self, project: Path, default_config: dict[str, Any], default_plan: Plan
    ) -> None:
        """Reversing the clusters, the identities and each identity's clusters changes nothing."""
        reordered = copy.deepcopy(default_config)
        reordered["clusters"].reverse()
        reordered["identities"].reverse()
        for identity in reordered["identities"]:
            identity["clusters"].reverse()

        result = diff_plans(default_plan, plan_config(project, reordered))

        assert not result.has_changes, result.render()

    def test_issuer_change_touches_exactly_what_depends_on_it(
        self, default_plan: Plan, rebuilt: tuple[Plan, PlanDiff]
    ) -> None:
        """A new prod-eks issuer changes the resources of the old and new issuer, nothing else."""
        after, result = rebuilt

        touched_before = {(r.type, r.name) for r in result.removed} | {
            (c.type, c.name) for c in result.changed
        }
        touched_after = {(r.type, r.name) for r in result.added} | {
            (c.type, c.name) for c in result.changed
        }
        assert touched_before == depends_on_issuer(default_plan, EKS_ISSUER)
        assert touched_after == depends_on_issuer(after, NEW_EKS_ISSUER)
        assert not any(c.replace for c in result.changed)

    def test_issuer_change_flags_the_dropped_issuer(self, rebuilt: tuple[Plan, PlanDiff]) -> None:
        """Dropping the old issuer outright is flagged on every trust that named it."""
        _, result = rebuilt

        assert result.interruptions == len(result.changed) + sum(
            1 for r in result.removed if r.type in TRUST_RULES
        )
        assert all(EKS_ISSUER in " ".join(c.interrupts) for c in result.changed)


def _without_prod_aks(config: dict[str, Any]) -> dict[str, Any]:
    smaller = copy.deepcopy(config)
    for identity in smaller["identities"]:
        identity["clusters"] = [c for c in identity["clusters"] if c != "prod-aks"]
    return smaller


@pytest.fixture(scope="module")
def migration(project: Path, default_config: dict[str, Any]) -> tuple[Plan, Plan, PlanDiff]:
    """The default stack less prod-aks's trusts (so policies fit), before and during migration."""
    before = plan_config(project, _without_prod_aks(default_config))
    after = plan_config(project, rebuilt_eks(_without_prod_aks(default_config), keep_previous=True))
    return before, after, diff_plans(before, after)


class TestMigration:
    def test_nothing_trusted_is_removed(self, migration: tuple[Plan, Plan, PlanDiff]) -> None:
        """With previousIssuers, no resource is removed and no change interrupts access."""
        _, _, result = migration

        assert result.removed == ()
        assert result.interruptions == 0

    def test_old_issuer_resources_change_only_by_adding_trust(
        self, migration: tuple[Plan, Plan, PlanDiff]
    ) -> None:
        """The old issuer's own resources stay; shared trust policies only gain statements."""
        before, _, result = migration
        old = depends_on_issuer(before, EKS_ISSUER)

        changed = {(c.type, c.name): c for c in result.changed}

        assert set(changed) <= old
        assert {t for t, _ in changed} == {ROLE}
        assert all(c.keys == ("assumeRolePolicy",) for c in changed.values())

    def test_only_the_new_issuer_is_added(self, migration: tuple[Plan, Plan, PlanDiff]) -> None:
        """The resources added are exactly those of the new issuer."""
        _, after, result = migration

        added = {(r.type, r.name) for r in result.added}

        assert added == depends_on_issuer(after, NEW_EKS_ISSUER) - {
            (c.type, c.name) for c in result.changed
        }
