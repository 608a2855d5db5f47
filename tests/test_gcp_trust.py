"""Tests for the GCP trust components, read back from the plan the mock engine records."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence

import pulumi
import pytest
from fluxtrust.config import GcpAccessMode, GcpRole, ServiceAccountRef
from fluxtrust.gcp_trust import (
    EmptyTrustError,
    GcpClusterProvider,
    GcpClusterProviderArgs,
    GcpIdentityAccess,
    GcpIdentityAccessArgs,
    GcpTrustError,
    GcpWorkloadIdentityPool,
    GcpWorkloadIdentityPoolArgs,
    gcp_federated_member,
    gcp_service_account_id,
)
from fluxtrust.plan import Plan, run_plan
from fluxtrust.trust_policy import TrustLimitError
from pulumi.runtime import settings

PROJECT = "acme-flux"
NUMBER = "123456789012"
POOL = "flux-clusters"
CONFIG = {"gcp": {"project": PROJECT, "projectNumber": NUMBER, "pool": POOL}}
KIND = "https://issuer.example.com/ci-kind"
SOURCE = ServiceAccountRef("flux-system", "source-controller")
TENANT = ServiceAccountRef("team-a", "tenant")
PRINCIPAL_ROOT = f"principal://iam.googleapis.com/projects/{NUMBER}/locations/global"
SOURCE_PRINCIPAL = f"{PRINCIPAL_ROOT}/workloadIdentityPools/{POOL}/subject/{SOURCE.subject}"
TENANT_PRINCIPAL = f"{PRINCIPAL_ROOT}/workloadIdentityPools/{POOL}/subject/{TENANT.subject}"
READER = GcpRole("roles/artifactregistry.reader")
DECRYPTER = GcpRole("roles/cloudkms.cryptoKeyDecrypter")
JWKS = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k"}]})

POOL_TYPE = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
PROVIDER_TYPE = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"


@pytest.fixture(autouse=True)
def _forget_failed_outputs() -> Iterator[None]:
    """Drops output tasks a failed run leaves behind in the runtime's settings.

    Mock settings keep the set of pending outputs from one run to the next, so an error raised
    inside an apply would be raised again by every later run in the process.
    """
    yield
    settings.SETTINGS.outputs.clear()


def plan_of(program: Callable[[], None]) -> Plan:
    """Runs ``program`` under the mock engine with the test project."""
    return run_plan(CONFIG, stack="test", program=program)


def provider_program(
    subjects: Sequence[str] = (SOURCE.subject,),
    jwks_json: str | None = None,
    provider_id: str = "ci-kind-0a1b2c3d",
) -> Callable[[], None]:
    """A program declaring one cluster provider and exporting its outputs."""

    def program() -> None:
        provider = GcpClusterProvider(
            "kind",
            GcpClusterProviderArgs(
                project=PROJECT,
                project_number=NUMBER,
                pool_id=POOL,
                provider_id=provider_id,
                issuer_url=KIND,
                subjects=subjects,
                jwks_json=jwks_json,
                display_name="ci-kind",
            ),
        )
        pulumi.export("name", provider.name)
        pulumi.export("audience", provider.audience)

    return program


def access_program(
    access: GcpAccessMode,
    members: Sequence[pulumi.Input[str]] = (SOURCE_PRINCIPAL,),
    roles: Sequence[GcpRole] = (READER,),
    service_account_id: str | None = None,
) -> Callable[[], None]:
    """A program declaring one identity's access and exporting its outputs."""

    def program() -> None:
        granted = GcpIdentityAccess(
            "source",
            GcpIdentityAccessArgs(
                project=PROJECT,
                project_number=NUMBER,
                identity_name="source",
                members=members,
                roles=roles,
                access=access,
                service_account_id=service_account_id,
            ),
        )
        pulumi.export("members", granted.members)
        if granted.service_account_email is not None:
            pulumi.export("email", granted.service_account_email)

    return program


class TestPool:
    def test_pool_inputs_and_outputs(self) -> None:
        """The pool is declared in the project with its id; its full name is an output."""

        def program() -> None:
            pool = GcpWorkloadIdentityPool(
                "pool", GcpWorkloadIdentityPoolArgs(PROJECT, POOL, "fluxtrust test")
            )
            pulumi.export("name", pool.name)
            pulumi.export("poolId", pool.pool_id)

        plan = plan_of(program)

        (pool,) = plan.of_type(POOL_TYPE)
        assert pool.parent == "pool"
        assert pool.inputs == {
            "project": PROJECT,
            "workloadIdentityPoolId": POOL,
            "displayName": "fluxtrust test",
        }
        assert plan.outputs == {
            "name": f"projects/{NUMBER}/locations/global/workloadIdentityPools/{POOL}",
            "poolId": POOL,
        }

    def test_reserved_prefix_is_refused(self) -> None:
        """An id starting with 'gcp-' is refused before anything is declared."""

        def program() -> None:
            GcpWorkloadIdentityPool("pool", GcpWorkloadIdentityPoolArgs(PROJECT, "gcp-flux"))

        with pytest.raises(GcpTrustError, match=r"'pool'.*'gcp-'"):
            plan_of(program)


class TestProvider:
    def test_issuer_mapping_and_condition(self) -> None:
        """The provider trusts the issuer, maps the subject and admits exactly the subjects."""
        plan = plan_of(provider_program([TENANT.subject, SOURCE.subject]))

        (provider,) = plan.of_type(PROVIDER_TYPE)
        assert provider.parent == "kind"
        assert provider.inputs["workloadIdentityPoolId"] == POOL
        assert provider.inputs["workloadIdentityPoolProviderId"] == "ci-kind-0a1b2c3d"
        assert provider.inputs["oidc"] == {"issuerUri": KIND}
        assert provider.inputs["attributeMapping"] == {"google.subject": "assertion.sub"}
        assert provider.inputs["attributeCondition"] == (
            f"assertion.sub in ['{SOURCE.subject}', '{TENANT.subject}']"
        )

    def test_single_subject_condition(self) -> None:
        """One subject is an equality, not a list."""
        plan = plan_of(provider_program())

        (provider,) = plan.of_type(PROVIDER_TYPE)
        assert provider.inputs["attributeCondition"] == f"assertion.sub == '{SOURCE.subject}'"

    def test_no_allowed_audiences(self) -> None:
        """No allowed audiences: GCP accepts the provider's own name, which Flux requests."""
        plan = plan_of(provider_program(jwks_json=JWKS))

        (provider,) = plan.of_type(PROVIDER_TYPE)
        assert "allowedAudiences" not in provider.inputs["oidc"]

    def test_uploaded_jwks(self) -> None:
        """The JWKS, when given, is uploaded with the provider."""
        plan = plan_of(provider_program(jwks_json=JWKS))

        (provider,) = plan.of_type(PROVIDER_TYPE)
        assert provider.inputs["oidc"] == {"issuerUri": KIND, "jwksJson": JWKS}

    def test_name_and_audience(self) -> None:
        """The outputs are the provider's full name and the audience Flux requests."""
        plan = plan_of(provider_program())

        name = f"projects/{NUMBER}/locations/global/workloadIdentityPools/{POOL}/providers/"
        name += "ci-kind-0a1b2c3d"
        assert plan.outputs == {"name": name, "audience": f"//iam.googleapis.com/{name}"}

    def test_no_subject_is_refused(self) -> None:
        """A provider admitting no subject would admit the whole issuer: refused."""
        with pytest.raises(EmptyTrustError, match=r"'ci-kind-0a1b2c3d'.*admits no subject"):
            plan_of(provider_program([]))

    def test_condition_over_the_limit_is_refused(self) -> None:
        """A condition beyond GCP's 4,096 characters stops the program, naming the provider."""
        subjects = [f"system:serviceaccount:tenant-{i:03}:reader" for i in range(120)]

        with pytest.raises(TrustLimitError, match=r"'ci-kind-0a1b2c3d'.*4096"):
            plan_of(provider_program(subjects))

    def test_invalid_provider_id_is_refused(self) -> None:
        """A provider id GCP would refuse is an error naming the provider."""
        with pytest.raises(GcpTrustError, match=r"'Kind_1'"):
            plan_of(provider_program(provider_id="Kind_1"))


class TestDirectAccess:
    def test_bindings_per_role_and_member(self) -> None:
        """Each role is bound on the project to each federated member."""
        members = [SOURCE_PRINCIPAL, TENANT_PRINCIPAL]

        plan = plan_of(access_program("direct", members, [READER, DECRYPTER]))

        bindings = {(b.inputs["role"], b.inputs["member"]) for b in plan.of_type(PROJECT_MEMBER)}
        assert bindings == {(r.role, m) for r in (READER, DECRYPTER) for m in members}
        assert {b.inputs["project"] for b in plan.of_type(PROJECT_MEMBER)} == {PROJECT}
        assert plan.of_type(ACCOUNT) == []
        assert plan.outputs == {"members": members}

    def test_names_survive_reordering(self) -> None:
        """Reordering roles or members renames no binding."""

        def names(plan: Plan) -> dict[tuple[str, str], str]:
            return {
                (b.inputs["role"], b.inputs["member"]): b.name for b in plan.of_type(PROJECT_MEMBER)
            }

        members = [SOURCE_PRINCIPAL, TENANT_PRINCIPAL]

        first = plan_of(access_program("direct", members, [READER, DECRYPTER]))
        second = plan_of(access_program("direct", members[::-1], [DECRYPTER, READER]))

        assert names(first) == names(second)

    def test_member_of_another_project_is_refused(self) -> None:
        """A principal federated through another project's pool is an error naming the identity."""
        stranger = SOURCE_PRINCIPAL.replace(NUMBER, "999999999999")

        with pytest.raises(GcpTrustError, match=r"'source'.*another project"):
            plan_of(access_program("direct", [stranger]))

    def test_no_member_is_refused(self) -> None:
        """An access granted to nobody is an error."""
        with pytest.raises(EmptyTrustError, match=r"'source' has no member"):
            plan_of(access_program("direct", []))


class TestImpersonation:
    def test_service_account_roles_and_users(self) -> None:
        """The service account gets the roles; the members may impersonate it."""
        plan = plan_of(access_program("impersonation", service_account_id="flux-test-source"))

        (account,) = plan.of_type(ACCOUNT)
        email = f"flux-test-source@{PROJECT}.iam.gserviceaccount.com"
        assert account.inputs["accountId"] == "flux-test-source"
        assert account.inputs["project"] == PROJECT
        (binding,) = plan.of_type(PROJECT_MEMBER)
        assert binding.inputs["role"] == READER.role
        assert binding.inputs["member"] == f"serviceAccount:{email}"
        (user,) = plan.of_type(ACCOUNT_MEMBER)
        assert user.inputs == {
            "serviceAccountId": f"projects/{PROJECT}/serviceAccounts/{email}",
            "role": "roles/iam.workloadIdentityUser",
            "member": SOURCE_PRINCIPAL,
        }
        assert plan.outputs == {"email": email, "members": [SOURCE_PRINCIPAL]}

    def test_default_service_account_id(self) -> None:
        """Without an id, the service account is named from the stack and the identity."""
        plan = plan_of(access_program("impersonation"))

        (account,) = plan.of_type(ACCOUNT)
        assert account.inputs["accountId"] == gcp_service_account_id("test", "source")

    def test_invalid_service_account_id_is_refused(self) -> None:
        """An id GCP would refuse is an error naming the identity."""
        with pytest.raises(GcpTrustError, match=r"'source'.*service account id 'flux'"):
            plan_of(access_program("impersonation", service_account_id="flux"))

    def test_gke_member_impersonates(self) -> None:
        """A GKE ServiceAccount of the project impersonates through GKE's own pool."""
        member = f"serviceAccount:{PROJECT}.svc.id.goog[flux-system/source-controller]"

        plan = plan_of(access_program("impersonation", [member]))

        (user,) = plan.of_type(ACCOUNT_MEMBER)
        assert user.inputs["member"] == member

    def test_runs_are_byte_identical(self) -> None:
        """Two runs on the same input declare the same bytes."""
        program = access_program("impersonation", [SOURCE_PRINCIPAL, TENANT_PRINCIPAL])

        first, second = plan_of(program), plan_of(program)

        assert first.dumps() == second.dumps()


class TestMembers:
    def test_federated_principal(self) -> None:
        """A cluster federated through the pool is named by its subject in the pool."""
        member = gcp_federated_member(
            access="direct",
            project_id=PROJECT,
            project_number=NUMBER,
            pool_id=POOL,
            service_account=SOURCE,
        )

        assert member == SOURCE_PRINCIPAL

    def test_federated_principal_impersonates_too(self) -> None:
        """Impersonation from a federated cluster grants the same principal."""
        member = gcp_federated_member(
            access="impersonation",
            project_id=PROJECT,
            project_number=NUMBER,
            pool_id=POOL,
            service_account=SOURCE,
        )

        assert member == SOURCE_PRINCIPAL

    def test_gke_direct(self) -> None:
        """Direct access from GKE names the subject ns/<ns>/sa/<name> in GKE's own pool."""
        member = gcp_federated_member(
            access="direct",
            project_id=PROJECT,
            project_number=NUMBER,
            pool_id=POOL,
            service_account=SOURCE,
            gke_builtin=True,
        )

        assert member == (
            f"{PRINCIPAL_ROOT}/workloadIdentityPools/{PROJECT}.svc.id.goog/subject/"
            "ns/flux-system/sa/source-controller"
        )

    def test_gke_impersonation(self) -> None:
        """Impersonation from GKE names serviceAccount:<project>.svc.id.goog[<ns>/<name>]."""
        member = gcp_federated_member(
            access="impersonation",
            project_id=PROJECT,
            project_number=NUMBER,
            pool_id=POOL,
            service_account=SOURCE,
            gke_builtin=True,
        )

        assert member == f"serviceAccount:{PROJECT}.svc.id.goog[flux-system/source-controller]"

    def test_project_id_for_number_is_refused(self) -> None:
        """A project id where the number belongs is an error naming the ServiceAccount."""
        with pytest.raises(GcpTrustError, match=r"flux-system/source-controller.*digits"):
            gcp_federated_member(
                access="direct",
                project_id=PROJECT,
                project_number=PROJECT,
                pool_id=POOL,
                service_account=SOURCE,
            )


class TestServiceAccountId:
    def test_short_id(self) -> None:
        """A short id is flux-<stack>-<identity>, unchanged."""
        assert gcp_service_account_id("dev", "source") == "flux-dev-source"

    def test_long_id_is_cut_with_a_hash(self) -> None:
        """An id over 30 characters is cut to 30 and ends with a hash."""
        first = gcp_service_account_id("production", "image-reflector-controller")
        second = gcp_service_account_id("production", "image-automation-controller")

        assert len(first) == 30
        assert re.fullmatch(r"flux-production-image-r-[0-9a-f]{6}", first)
        assert first != second

    @pytest.mark.parametrize(
        ("stack", "identity"), [("Dev", "source"), ("dev_eu", "x"), ("d", "e-"), ("x" * 40, "y")]
    )
    def test_always_valid(self, stack: str, identity: str) -> None:
        """Whatever the stack and identity, the id is one GCP accepts."""
        account_id = gcp_service_account_id(stack, identity)

        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id)
