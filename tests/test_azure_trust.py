"""Tests for the Azure trust component, read back from the plan the mock engine records."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence

import pulumi
import pytest
from fluxtrust.azure_trust import (
    AzureCredential,
    AzureFederatedIdentity,
    AzureFederatedIdentityArgs,
    AzureTrustError,
    DuplicateFederatedCredentialError,
    azure_identity_name,
    azure_identity_resource_id,
)
from fluxtrust.config import AzureRole
from fluxtrust.placeholders import placeholder_uuid
from fluxtrust.plan import Plan, PlannedResource, run_plan
from fluxtrust.trust_policy import TrustLimitError
from pulumi.runtime import settings

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TENANT = "00000000-0000-0000-0000-0000000000aa"
GROUP = "flux-identities"
CONFIG = {
    "azure": {
        "tenantId": TENANT,
        "subscriptionId": SUBSCRIPTION,
        "resourceGroup": GROUP,
        "location": "westeurope",
    }
}
IDENTITY = "fluxtrust-test-source"
SUBJECT = "system:serviceaccount:flux-system:source-controller"
KIND = "https://issuer.example.com/ci-kind"
AKS = "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"
EKS = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"
REGISTRY = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/acr/providers/"
    "Microsoft.ContainerRegistry/registries/acme"
)
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

UAMI = "azure-native:managedidentity:UserAssignedIdentity"
FIC = "azure-native:managedidentity:FederatedIdentityCredential"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"


@pytest.fixture(autouse=True)
def _forget_failed_outputs() -> Iterator[None]:
    """Drops output tasks a failed run leaves behind in the runtime's settings.

    Mock settings keep the set of pending outputs from one run to the next, so an error raised
    inside an apply would be raised again by every later run in the process.
    """
    yield
    settings.SETTINGS.outputs.clear()


def credential(cluster: str, issuer: pulumi.Input[str], subject: str = SUBJECT) -> AzureCredential:
    """A credential keyed by cluster name and issuer, as the graph keys them."""
    key = f"{cluster}-{issuer}" if isinstance(issuer, str) else f"{cluster}-current"
    return AzureCredential(cluster_name=cluster, issuer_url=issuer, subject=subject, key=key)


CLUSTERS = [credential("ci-kind", KIND), credential("prod-aks", AKS), credential("prod-eks", EKS)]


def identity_program(
    credentials: Sequence[AzureCredential] = CLUSTERS,
    roles: Sequence[AzureRole] = (AzureRole("AcrPull", REGISTRY),),
    identity_name: str = IDENTITY,
) -> Callable[[], None]:
    """A program declaring one federated identity and exporting its outputs."""

    def program() -> None:
        identity = AzureFederatedIdentity(
            "source",
            AzureFederatedIdentityArgs(
                identity_name=identity_name,
                resource_group=GROUP,
                location="westeurope",
                subscription_id=SUBSCRIPTION,
                credentials=credentials,
                roles=roles,
                tags={"fluxtrust-stack": "test"},
            ),
        )
        pulumi.export("clientId", identity.client_id)
        pulumi.export("principalId", identity.principal_id)
        pulumi.export("tenantId", identity.tenant_id)
        pulumi.export("resourceId", identity.resource_id)

    return program


def plan_of(program: Callable[[], None]) -> Plan:
    """Runs ``program`` under the mock engine with the test subscription."""
    return run_plan(CONFIG, stack="test", program=program)


def by_issuer(plan: Plan) -> dict[str, PlannedResource]:
    """The federated credentials, keyed by the issuer each trusts."""
    return {r.inputs["issuer"]: r for r in plan.of_type(FIC)}


def fic_dependencies(resource: PlannedResource) -> list[str]:
    """The federated credentials a credential waits for."""
    return [d for d in resource.depends_on if "-fic-" in d]


RESOURCE_ID = azure_identity_resource_id(SUBSCRIPTION, GROUP, IDENTITY)


class TestIdentity:
    def test_managed_identity(self) -> None:
        """One user-assigned identity, with the explicit name, group, region and tags."""
        plan = plan_of(identity_program())

        (uami,) = plan.of_type(UAMI)
        assert uami.name == "source-identity"
        assert uami.parent == "source"
        assert uami.inputs == {
            "resourceName": IDENTITY,
            "resourceGroupName": GROUP,
            "location": "westeurope",
            "tags": {"fluxtrust-stack": "test"},
        }

    def test_outputs(self) -> None:
        """Client id, principal id, tenant id and resource id come from the identity."""
        plan = plan_of(identity_program())

        assert plan.outputs == {
            "clientId": placeholder_uuid("azure-client-id", RESOURCE_ID),
            "principalId": placeholder_uuid("azure-principal-id", RESOURCE_ID),
            "tenantId": TENANT,
            "resourceId": RESOURCE_ID,
        }

    def test_invalid_name_is_refused(self) -> None:
        """A name Azure would refuse is an error naming the component."""
        with pytest.raises(AzureTrustError, match=r"source: 'flux\.dev' is not a managed"):
            plan_of(identity_program(identity_name="flux.dev"))


class TestFederatedCredentials:
    def test_issuer_subject_audience(self) -> None:
        """Each cluster issuer gets a credential for the subject, audience AzureADTokenExchange."""
        plan = plan_of(identity_program())

        credentials = by_issuer(plan)

        assert set(credentials) == {KIND, AKS, EKS}
        for fic in credentials.values():
            assert fic.inputs["subject"] == SUBJECT
            assert fic.inputs["audiences"] == ["api://AzureADTokenExchange"]
            assert fic.inputs["resourceName"] == IDENTITY
            assert fic.inputs["resourceGroupName"] == GROUP
            assert fic.parent == "source"

    def test_credential_names_in_azure(self) -> None:
        """Credential names read <identity>-<cluster>-<hash of issuer and subject>."""
        plan = plan_of(identity_program())

        names = {
            i: r.inputs["federatedIdentityCredentialResourceName"]
            for i, r in by_issuer(plan).items()
        }

        assert re.fullmatch(rf"{IDENTITY}-ci-kind-[0-9a-f]{{10}}", names[KIND])
        assert re.fullmatch(rf"{IDENTITY}-prod-aks-[0-9a-f]{{10}}", names[AKS])
        assert len(set(names.values())) == 3

    def test_credentials_are_written_one_after_another(self) -> None:
        """Each credential depends on the previous one in key order, so no two writes overlap."""
        plan = plan_of(identity_program())

        waits_for = {r.name: fic_dependencies(r) for r in plan.of_type(FIC)}

        kind, aks, eks = (by_issuer(plan)[issuer].name for issuer in (KIND, AKS, EKS))
        assert waits_for == {kind: [], aks: [kind], eks: [aks]}

    def test_chain_ignores_input_order(self) -> None:
        """Reordering the credentials changes neither resource names nor the chain."""

        def chain(plan: Plan) -> list[tuple[str, list[str]]]:
            return sorted((r.name, fic_dependencies(r)) for r in plan.of_type(FIC))

        first = plan_of(identity_program(CLUSTERS))
        second = plan_of(identity_program(CLUSTERS[::-1]))

        assert chain(first) == chain(second)

    def test_more_than_twenty_is_refused(self) -> None:
        """Azure holds at most 20 credentials per identity: 21 is an error naming it."""
        many = [credential(f"c{i}", f"https://issuer.example.com/c{i}") for i in range(21)]

        with pytest.raises(TrustLimitError, match=rf"'{IDENTITY}' would need 21 federated"):
            plan_of(identity_program(many))

    def test_twenty_are_accepted(self) -> None:
        """Twenty credentials, Azure's limit, are declared."""
        many = [credential(f"c{i}", f"https://issuer.example.com/c{i}") for i in range(20)]

        plan = plan_of(identity_program(many))

        assert len(plan.of_type(FIC)) == 20

    def test_duplicate_issuer_and_subject_is_refused(self) -> None:
        """Two credentials for one (issuer, subject) are an error naming the identity."""
        twice = [credential("a", KIND), AzureCredential("b", KIND, SUBJECT, key="b")]

        with pytest.raises(DuplicateFederatedCredentialError, match=rf"'{IDENTITY}' .*{KIND}"):
            plan_of(identity_program(twice))

    def test_duplicate_found_once_issuers_resolve(self) -> None:
        """A duplicate hidden behind an issuer known only at deploy time is still refused."""
        twice = [credential("a", KIND), credential("b", pulumi.Output.from_input(KIND))]

        with pytest.raises(DuplicateFederatedCredentialError, match=rf"'{IDENTITY}'"):
            plan_of(identity_program(twice))

    def test_same_issuer_other_subject_is_accepted(self) -> None:
        """One issuer with two subjects is two credentials."""
        tenant = "system:serviceaccount:team-a:tenant"
        pair = [credential("a", KIND), credential("a", KIND, tenant)]

        plan = plan_of(identity_program(pair))

        assert sorted(r.inputs["subject"] for r in plan.of_type(FIC)) == [SUBJECT, tenant]

    def test_no_credential_is_refused(self) -> None:
        """An identity no cluster may use is an error, not an idle identity."""
        with pytest.raises(AzureTrustError, match=rf"'{IDENTITY}' has no federated credential"):
            plan_of(identity_program([]))


class TestRoleAssignments:
    def test_assignment_inputs(self) -> None:
        """The role is assigned to the identity's service principal at the given scope."""
        plan = plan_of(identity_program())

        (assignment,) = plan.of_type(ASSIGNMENT)

        assert assignment.inputs["roleDefinitionId"] == (
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{ACR_PULL}"
        )
        assert assignment.inputs["scope"] == REGISTRY
        assert assignment.inputs["principalType"] == "ServicePrincipal"
        assert assignment.inputs["principalId"] == plan.outputs["principalId"]
        assert assignment.delete_before_replace
        assert assignment.parent == "source"

    def test_assignment_name_is_a_stable_guid(self) -> None:
        """The assignment name is a GUID that two runs derive identically."""
        first = plan_of(identity_program()).of_type(ASSIGNMENT)[0]
        second = plan_of(identity_program()).of_type(ASSIGNMENT)[0]

        name = first.inputs["roleAssignmentName"]
        assert str(uuid.UUID(name)) == name
        assert second.inputs["roleAssignmentName"] == name
        assert first.name == second.name

    def test_role_definition_id_passes_through(self) -> None:
        """A full role definition id is assigned as given."""
        role_id = f"/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"

        plan = plan_of(identity_program(roles=[AzureRole(role_id, REGISTRY)]))

        assert plan.of_type(ASSIGNMENT)[0].inputs["roleDefinitionId"] == role_id

    def test_one_assignment_per_role_and_scope(self) -> None:
        """Two roles give two assignments with distinct names; a repeat is one assignment."""
        reader = AzureRole("Reader", f"/subscriptions/{SUBSCRIPTION}")
        roles = [AzureRole("AcrPull", REGISTRY), reader, AzureRole("acrpull", REGISTRY.upper())]

        plan = plan_of(identity_program(roles=roles))

        names = {a.inputs["roleAssignmentName"] for a in plan.of_type(ASSIGNMENT)}
        assert len(names) == 2

    def test_unknown_role_is_refused(self) -> None:
        """A role name that is not a known built-in is an error naming the identity."""
        with pytest.raises(AzureTrustError, match=rf"'{IDENTITY}': unknown Azure role 'Owner'"):
            plan_of(identity_program(roles=[AzureRole("Owner", REGISTRY)]))

    def test_runs_are_byte_identical(self) -> None:
        """Two runs on the same input declare the same bytes."""
        first, second = plan_of(identity_program()), plan_of(identity_program())

        assert first.dumps() == second.dumps()


class TestIdentityName:
    def test_short_name(self) -> None:
        """A valid name is fluxtrust-<stack>-<identity>, unchanged."""
        assert azure_identity_name("dev", "source") == "fluxtrust-dev-source"

    def test_refused_characters_are_replaced(self) -> None:
        """A '.' in a stack name becomes '-', and a hash tells the name from a lookalike."""
        name = azure_identity_name("dev.eu", "source")

        assert re.fullmatch(r"fluxtrust-dev-eu-source-[0-9a-f]{8}", name)
        assert name != azure_identity_name("dev-eu", "source")

    def test_long_name_is_cut(self) -> None:
        """A name over 128 characters is cut to 128 and ends with a hash."""
        name = azure_identity_name("s" * 120, "source")

        assert len(name) == 128
        assert re.fullmatch(r"fluxtrust-s+-[0-9a-f]{8}", name)
