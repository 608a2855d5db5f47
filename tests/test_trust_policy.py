"""Tests for the cloud-side trust builders: policies, conditions, names and validators."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pulumi
import pytest
from fluxtrust.trust_policy import (
    AWS_TRUST_POLICY_MAX_CHARS,
    AZURE_BUILTIN_ROLES,
    GCP_ATTRIBUTE_CONDITION_MAX_CHARS,
    AwsFederation,
    TrustLimitError,
    aws_oidc_provider_arn,
    aws_policy_size,
    aws_role_trust_policy,
    azure_federated_credential_name,
    azure_role_assignment_name,
    azure_role_definition_id,
    canonical_json,
    check_aws_oidc_provider_count,
    check_aws_trust_policy_size,
    check_azure_federated_credential_count,
    gcp_attribute_condition,
    gcp_attribute_mapping,
    gcp_gke_workload_identity_member,
    gcp_gke_workload_identity_principal,
    gcp_pool_id,
    gcp_principal,
    gcp_provider_audience,
    gcp_provider_id,
    gcp_workload_identity_provider_name,
    gke_workload_identity_audience,
    issuer_host_path,
    service_account_subject,
    validate_aws_policy_arn,
    validate_azure_scope,
    validate_gcp_id,
    validate_gcp_role,
)

EKS_ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
EKS_HOST_PATH = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
EKS_PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{EKS_HOST_PATH}"
KIND_ISSUER = "https://storage.googleapis.com/acme-ci-kind-issuer"
KIND_HOST_PATH = "storage.googleapis.com/acme-ci-kind-issuer"
KIND_PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{KIND_HOST_PATH}"
SOURCE = "system:serviceaccount:flux-system:source-controller"
KUSTOMIZE = "system:serviceaccount:flux-system:kustomize-controller"
TENANT = "system:serviceaccount:team-a:flux"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ROLE_DEFINITIONS = "providers/Microsoft.Authorization/roleDefinitions"
GUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _padded_policy(size: int) -> dict[str, Any]:
    """Return a policy-like document whose IAM size is exactly ``size``."""
    # canonical_json({"a": "x" * n}) is {"a":"xxx"}: 8 characters around the padding.
    return {"a": "x" * (size - 8)}


class TestServiceAccountSubject:
    def test_builds_the_token_subject(self) -> None:
        """The subject is system:serviceaccount:<namespace>:<name>."""
        subject = service_account_subject("flux-system", "source-controller")

        assert subject == SOURCE

    def test_refuses_a_name_kubernetes_would_refuse(self) -> None:
        """An uppercase namespace cannot be a ServiceAccount's, so it is refused."""
        with pytest.raises(ValueError, match="must be system:serviceaccount"):
            service_account_subject("Flux-System", "source-controller")


class TestIssuerHostPath:
    def test_drops_only_the_scheme(self) -> None:
        """The host path is the issuer without https://, path included."""
        host_path = issuer_host_path(EKS_ISSUER)

        assert host_path == EKS_HOST_PATH

    def test_keeps_a_trailing_slash(self) -> None:
        """A trailing slash is part of the issuer, so it stays."""
        host_path = issuer_host_path("https://eastus.oic.prod-aks.azure.com/tenant/guid/")

        assert host_path == "eastus.oic.prod-aks.azure.com/tenant/guid/"

    @pytest.mark.parametrize(
        ("issuer", "problem"),
        [
            ("http://example.com/issuer", "must start with https://"),
            ("https://example.com/issuer?x=1", "query or a fragment"),
            ("https://example.com/a b", "whitespace"),
            ("https:///path", "must name a host"),
        ],
    )
    def test_refuses_what_is_not_an_issuer(self, issuer: str, problem: str) -> None:
        """Only an https URL with a host and no query, fragment or whitespace is accepted."""
        with pytest.raises(ValueError, match=re.escape(problem)):
            issuer_host_path(issuer)


class TestAwsOidcProviderArn:
    def test_names_the_provider_by_host_path(self) -> None:
        """IAM names the provider after the issuer without its scheme."""
        arn = aws_oidc_provider_arn("123456789012", EKS_ISSUER)

        assert arn == EKS_PROVIDER

    def test_other_partitions(self) -> None:
        """The partition is part of the ARN."""
        arn = aws_oidc_provider_arn("123456789012", EKS_ISSUER, partition="aws-cn")

        assert arn == f"arn:aws-cn:iam::123456789012:oidc-provider/{EKS_HOST_PATH}"

    def test_refuses_a_short_account_id(self) -> None:
        """An account id has 12 digits."""
        with pytest.raises(ValueError, match="12 digits"):
            aws_oidc_provider_arn("12345678901", EKS_ISSUER)

    def test_refuses_an_issuer_longer_than_iam_accepts(self) -> None:
        """IAM caps the provider URL at 255 characters."""
        issuer = "https://example.com/" + "a" * 236

        with pytest.raises(ValueError, match="at most 255"):
            aws_oidc_provider_arn("123456789012", issuer)


class TestAwsFederation:
    def test_sorts_and_deduplicates_subjects(self) -> None:
        """Subjects are stored sorted and once each, so the policy is stable."""
        federation = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (SOURCE, KUSTOMIZE, SOURCE))

        assert federation.subjects == (KUSTOMIZE, SOURCE)

    def test_refuses_a_provider_of_another_issuer(self) -> None:
        """A reused provider ARN must name the issuer it is paired with."""
        with pytest.raises(ValueError, match="is not the provider of issuer"):
            AwsFederation(KIND_PROVIDER, EKS_ISSUER, (SOURCE,))

    def test_refuses_no_subject(self) -> None:
        """A federation without subjects would be a useless statement."""
        with pytest.raises(ValueError, match="no subject"):
            AwsFederation(EKS_PROVIDER, EKS_ISSUER, ())

    def test_refuses_a_wildcard_subject(self) -> None:
        """A wildcard is not a ServiceAccount subject."""
        with pytest.raises(ValueError, match="must be system:serviceaccount"):
            AwsFederation(EKS_PROVIDER, EKS_ISSUER, ("system:serviceaccount:flux-system:*",))


class TestAwsRoleTrustPolicy:
    def test_one_provider_one_subject(self) -> None:
        """One provider gives one statement pinning audience and subject with StringEquals."""
        federation = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (SOURCE,))

        policy = aws_role_trust_policy([federation])

        assert policy == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": EKS_PROVIDER},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{EKS_HOST_PATH}:aud": "sts.amazonaws.com",
                            f"{EKS_HOST_PATH}:sub": SOURCE,
                        }
                    },
                }
            ],
        }

    def test_two_providers(self) -> None:
        """Two providers give two statements sorted by ARN, several subjects as a sorted list."""
        eks = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (SOURCE,))
        kind = AwsFederation(KIND_PROVIDER, KIND_ISSUER, (TENANT, KUSTOMIZE))

        policy = aws_role_trust_policy([kind, eks])

        assert policy == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": EKS_PROVIDER},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{EKS_HOST_PATH}:aud": "sts.amazonaws.com",
                            f"{EKS_HOST_PATH}:sub": SOURCE,
                        }
                    },
                },
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": KIND_PROVIDER},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{KIND_HOST_PATH}:aud": "sts.amazonaws.com",
                            f"{KIND_HOST_PATH}:sub": [KUSTOMIZE, TENANT],
                        }
                    },
                },
            ],
        }

    def test_merges_federations_of_one_provider(self) -> None:
        """Two federations through the same provider become one statement."""
        first = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (SOURCE,))
        second = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (KUSTOMIZE, SOURCE))

        policy = aws_role_trust_policy([first, second])

        [statement] = policy["Statement"]
        assert statement["Condition"]["StringEquals"][f"{EKS_HOST_PATH}:sub"] == [KUSTOMIZE, SOURCE]

    def test_is_byte_identical_whatever_the_input_order(self) -> None:
        """The rendered policy does not depend on the order federations and subjects come in."""
        eks = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (SOURCE, KUSTOMIZE))
        kind = AwsFederation(KIND_PROVIDER, KIND_ISSUER, (TENANT,))
        eks_reversed = AwsFederation(EKS_PROVIDER, EKS_ISSUER, (KUSTOMIZE, SOURCE))

        first = canonical_json(aws_role_trust_policy([eks, kind]))
        second = canonical_json(aws_role_trust_policy([kind, eks_reversed]))

        assert first == second

    def test_refuses_an_empty_policy(self) -> None:
        """A role nobody can assume is a mistake, not a policy."""
        with pytest.raises(ValueError, match="at least one federation"):
            aws_role_trust_policy([])


class TestAwsPolicySize:
    def test_does_not_count_whitespace(self) -> None:
        """IAM counts characters other than whitespace."""
        policy = {"a": "x y"}

        assert aws_policy_size(policy) == len('{"a":"xy"}')

    def test_accepts_exactly_the_limit(self) -> None:
        """A policy of 2,048 characters is accepted and its size returned."""
        policy = _padded_policy(AWS_TRUST_POLICY_MAX_CHARS)

        assert check_aws_trust_policy_size(policy, role_label="flux-source") == 2048

    def test_refuses_one_character_more(self) -> None:
        """A policy of 2,049 characters is refused, naming the role, the limit and the fix."""
        policy = _padded_policy(AWS_TRUST_POLICY_MAX_CHARS + 1)

        with pytest.raises(TrustLimitError, match=r"'flux-source'.*2049.*2048.*split the identity"):
            check_aws_trust_policy_size(policy, role_label="flux-source")

    def test_a_raised_quota_can_be_passed(self) -> None:
        """An account whose quota was raised passes its own limit."""
        policy = _padded_policy(3000)

        assert check_aws_trust_policy_size(policy, role_label="r", limit=4096) == 3000

    def test_many_subjects_overflow_a_real_policy(self) -> None:
        """A role trusting dozens of ServiceAccounts outgrows IAM's default limit."""
        subjects = tuple(service_account_subject(f"team-{i:02d}", "flux") for i in range(60))
        policy = aws_role_trust_policy([AwsFederation(EKS_PROVIDER, EKS_ISSUER, subjects)])

        with pytest.raises(TrustLimitError, match="ACLSizePerRole"):
            check_aws_trust_policy_size(policy, role_label="tenants")

    def test_limit_errors_stop_pulumi_cleanly(self) -> None:
        """Limit errors are RunErrors, so Pulumi prints the message without a traceback."""
        assert issubclass(TrustLimitError, pulumi.RunError)


class TestCanonicalJson:
    def test_sorts_keys_and_drops_whitespace(self) -> None:
        """Keys are sorted and separators compact."""
        text = canonical_json({"b": [1, 2], "a": {"d": 1, "c": 2}})

        assert text == '{"a":{"c":2,"d":1},"b":[1,2]}'


class TestCountLimits:
    def test_azure_allows_twenty_credentials(self) -> None:
        """Twenty federated credentials fit on one managed identity."""
        check_azure_federated_credential_count(20, identity_label="source-controller")

    def test_azure_refuses_twenty_one_credentials(self) -> None:
        """The twenty-first credential is refused with the identity named and the fix."""
        with pytest.raises(TrustLimitError, match=r"'source-controller'.*21.*20.*split"):
            check_azure_federated_credential_count(21, identity_label="source-controller")

    def test_aws_refuses_more_than_100_providers(self) -> None:
        """An account needing 101 OIDC providers is over IAM's default quota."""
        check_aws_oidc_provider_count(100, account_label="123456789012")

        with pytest.raises(TrustLimitError, match=r"101 IAM OIDC providers.*100"):
            check_aws_oidc_provider_count(101, account_label="123456789012")


class TestGcpNames:
    def test_provider_name_and_audience(self) -> None:
        """The audience is //iam.googleapis.com/ followed by the provider's resource name."""
        name = gcp_workload_identity_provider_name("123456789", "flux-clusters", "ci-kind-1a2b")

        audience = gcp_provider_audience("123456789", "flux-clusters", "ci-kind-1a2b")

        assert name == (
            "projects/123456789/locations/global/workloadIdentityPools/flux-clusters/"
            "providers/ci-kind-1a2b"
        )
        assert audience == f"//iam.googleapis.com/{name}"

    def test_principal_of_a_subject(self) -> None:
        """A federated subject's principal is under the pool's subject/ path."""
        principal = gcp_principal("123456789", "flux-clusters", SOURCE)

        assert principal == (
            "principal://iam.googleapis.com/projects/123456789/locations/global/"
            f"workloadIdentityPools/flux-clusters/subject/{SOURCE}"
        )

    def test_gke_builtin_pool(self) -> None:
        """GKE's own pool is <project>.svc.id.goog, its members and principals name ns and sa."""
        audience = gke_workload_identity_audience("my-project")

        member = gcp_gke_workload_identity_member("my-project", "flux-system", "source-controller")
        principal = gcp_gke_workload_identity_principal(
            "123456789", "my-project", "flux-system", "source-controller"
        )

        assert audience == "my-project.svc.id.goog"
        assert member == "serviceAccount:my-project.svc.id.goog[flux-system/source-controller]"
        assert principal == (
            "principal://iam.googleapis.com/projects/123456789/locations/global/"
            "workloadIdentityPools/my-project.svc.id.goog/subject/ns/flux-system/"
            "sa/source-controller"
        )

    def test_refuses_a_project_id_where_a_number_is_due(self) -> None:
        """Pool resource names take the project number, not the project id."""
        with pytest.raises(ValueError, match="project number"):
            gcp_principal("my-project", "flux-clusters", SOURCE)

    def test_attribute_mapping_maps_the_subject(self) -> None:
        """google.subject is the token's sub claim."""
        assert gcp_attribute_mapping() == {"google.subject": "assertion.sub"}


class TestGcpAttributeCondition:
    def test_one_subject(self) -> None:
        """A single subject is compared with ==."""
        condition = gcp_attribute_condition([SOURCE])

        assert condition == f"assertion.sub == '{SOURCE}'"

    def test_three_subjects_sorted_and_deduplicated(self) -> None:
        """Several subjects become one sorted list, each once."""
        condition = gcp_attribute_condition([TENANT, SOURCE, KUSTOMIZE, SOURCE])

        assert condition == (
            "assertion.sub in ['system:serviceaccount:flux-system:kustomize-controller', "
            "'system:serviceaccount:flux-system:source-controller', "
            "'system:serviceaccount:team-a:flux']"
        )

    def test_refuses_a_quote(self) -> None:
        """A quote could end the CEL string early, so it is refused."""
        with pytest.raises(ValueError, match="quote"):
            gcp_attribute_condition(["system:serviceaccount:a:b' || true || '"])

    def test_refuses_a_backslash(self) -> None:
        """A backslash could escape the closing quote, so it is refused."""
        with pytest.raises(ValueError, match="backslash"):
            gcp_attribute_condition(["system:serviceaccount:a:b\\"])

    def test_refuses_no_subject(self) -> None:
        """A provider with nothing to admit must not be left admitting everything."""
        with pytest.raises(ValueError, match="admit every token"):
            gcp_attribute_condition([])

    def test_refuses_a_condition_over_the_limit(self) -> None:
        """GCP's 4,096-character limit is enforced with the provider named."""
        subjects = [service_account_subject(f"team-{i:03d}", "flux") for i in range(200)]

        with pytest.raises(TrustLimitError, match=r"'ci-kind'.*4096"):
            gcp_attribute_condition(subjects, provider_label="ci-kind")

    def test_stays_under_the_limit_when_it_fits(self) -> None:
        """Many subjects are fine as long as the condition fits."""
        subjects = [service_account_subject(f"team-{i:03d}", "flux") for i in range(50)]

        condition = gcp_attribute_condition(subjects)

        assert len(condition) <= GCP_ATTRIBUTE_CONDITION_MAX_CHARS


class TestGcpIds:
    @pytest.mark.parametrize("value", ["abcd", "flux-clusters", "a" * 32, "k8s-gcp-1"])
    def test_accepts_valid_ids(self, value: str) -> None:
        """Ids of 4 to 32 characters of [a-z0-9-], starting with a letter, are accepted."""
        assert validate_gcp_id(value) is None

    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            ("abc", "4 to 32 characters"),
            ("a" * 33, "4 to 32 characters"),
            ("gcp-pool", "gcp-"),
            ("Flux-pool", "lowercase"),
            ("flux_pool", "lowercase"),
            ("1flux", "start with a letter"),
            ("flux-", "end with"),
        ],
    )
    def test_refuses_invalid_ids(self, value: str, problem: str) -> None:
        """Length, charset, first and last character and the gcp- prefix are checked."""
        error = validate_gcp_id(value)

        assert error is not None
        assert problem in error

    def test_pool_id_is_checked(self) -> None:
        """A pool id breaking the rules is refused with the rule."""
        with pytest.raises(ValueError, match="'gcp-'"):
            gcp_pool_id("gcp-flux")


class TestGcpProviderId:
    def test_is_the_cluster_name_and_an_issuer_hash(self) -> None:
        """The id reads as the cluster, followed by a stable hash of the issuer."""
        provider_id = gcp_provider_id("ci-kind", KIND_ISSUER)

        assert provider_id == "ci-kind-b3192b99"

    def test_a_new_issuer_is_a_new_provider(self) -> None:
        """Two issuers of one cluster give two provider ids."""
        old = gcp_provider_id("ci-kind", KIND_ISSUER)

        new = gcp_provider_id("ci-kind", KIND_ISSUER + "-v2")

        assert old != new

    @pytest.mark.parametrize(
        "cluster", ["gcp-prod", "gcp", "a" * 30, "9lives", "Prod_EKS.1", "---"]
    )
    def test_is_always_a_valid_id(self, cluster: str) -> None:
        """Long names, the reserved prefix and odd characters still give a valid id."""
        provider_id = gcp_provider_id(cluster, EKS_ISSUER)

        assert validate_gcp_id(provider_id) is None


class TestAzureFederatedCredentialName:
    def test_reads_identity_cluster_and_hash(self) -> None:
        """The name is <identity>-<cluster>-<hash of issuer and subject>."""
        name = azure_federated_credential_name("source-controller", "ci-kind", KIND_ISSUER, SOURCE)

        assert name == "source-controller-ci-kind-27b7933569"

    def test_a_new_issuer_is_a_new_credential(self) -> None:
        """Changing the issuer changes the name, so the credential is replaced, not edited."""
        old = azure_federated_credential_name("source-controller", "ci-kind", KIND_ISSUER, SOURCE)

        new = azure_federated_credential_name("source-controller", "ci-kind", EKS_ISSUER, SOURCE)

        assert old != new

    def test_a_new_subject_is_a_new_credential(self) -> None:
        """Two subjects of one cluster get two credentials."""
        first = azure_federated_credential_name("tenants", "ci-kind", KIND_ISSUER, SOURCE)

        second = azure_federated_credential_name("tenants", "ci-kind", KIND_ISSUER, TENANT)

        assert first != second

    @pytest.mark.parametrize(
        ("identity", "cluster"), [("x" * 200, "y" * 200), ("_odd name!", "--c"), ("", "")]
    )
    def test_is_always_a_valid_azure_name(self, identity: str, cluster: str) -> None:
        """Whatever the inputs, the name has 3 to 120 allowed characters, first alphanumeric."""
        name = azure_federated_credential_name(identity, cluster, KIND_ISSUER, SOURCE)

        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{2,119}", name)


class TestAzureRoleAssignmentName:
    def test_is_a_stable_guid(self) -> None:
        """The name is a GUID, the same on every run."""
        role = f"/subscriptions/{SUBSCRIPTION}/{ROLE_DEFINITIONS}/{ACR_PULL}"

        name = azure_role_assignment_name(
            "source-controller", role, f"/subscriptions/{SUBSCRIPTION}"
        )

        assert name == "b71a67f3-666a-5508-a385-992ccd640b58"
        assert uuid.UUID(name).version == 5

    def test_differs_per_scope(self) -> None:
        """The same role at two scopes gives two names."""
        first = azure_role_assignment_name("p", ACR_PULL, f"/subscriptions/{SUBSCRIPTION}/a")

        second = azure_role_assignment_name("p", ACR_PULL, f"/subscriptions/{SUBSCRIPTION}/b")

        assert first != second

    def test_ignores_case_and_role_id_form(self) -> None:
        """ARM ids are case-insensitive and a role may be named in either id form."""
        scope = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg"
        full = f"/subscriptions/{SUBSCRIPTION}/{ROLE_DEFINITIONS}/{ACR_PULL}"

        by_full_id = azure_role_assignment_name("p", full, scope)
        by_tenant_id = azure_role_assignment_name("p", f"/{ROLE_DEFINITIONS}/{ACR_PULL}", scope)

        assert by_full_id == by_tenant_id == azure_role_assignment_name("p", full, scope.upper())


class TestAzureRoleDefinitionId:
    def test_maps_a_builtin_name(self) -> None:
        """A built-in role name becomes the subscription-scoped role definition id."""
        role_id = azure_role_definition_id("AcrPull", SUBSCRIPTION)

        assert role_id == f"/subscriptions/{SUBSCRIPTION}/{ROLE_DEFINITIONS}/{ACR_PULL}"

    def test_names_are_case_insensitive(self) -> None:
        """Azure role names are matched regardless of case."""
        role_id = azure_role_definition_id("storage blob data reader", SUBSCRIPTION)

        assert role_id.endswith("/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")

    def test_wraps_a_bare_guid(self) -> None:
        """A bare GUID (a custom role) gets the same form."""
        guid = "11111111-2222-3333-4444-555555555555"

        role_id = azure_role_definition_id(guid, SUBSCRIPTION)

        assert role_id == f"/subscriptions/{SUBSCRIPTION}/{ROLE_DEFINITIONS}/{guid}"

    @pytest.mark.parametrize(
        "role",
        [
            f"/subscriptions/{SUBSCRIPTION}/{ROLE_DEFINITIONS}/{ACR_PULL}",
            f"/{ROLE_DEFINITIONS}/{ACR_PULL}",
        ],
    )
    def test_keeps_a_full_id(self, role: str) -> None:
        """A full role definition id is returned unchanged."""
        assert azure_role_definition_id(role, SUBSCRIPTION) == role

    def test_refuses_an_unknown_name(self) -> None:
        """An unknown name lists the known ones and says an id is accepted too."""
        with pytest.raises(ValueError, match=r"'Owner'.*AcrPull.*role definition id"):
            azure_role_definition_id("Owner", SUBSCRIPTION)

    def test_builtin_roles_are_guids(self) -> None:
        """Every built-in role maps to a lowercase GUID."""
        assert all(re.fullmatch(GUID_PATTERN, guid) for guid in AZURE_BUILTIN_ROLES.values())


class TestValidators:
    @pytest.mark.parametrize(
        "scope",
        [
            f"/subscriptions/{SUBSCRIPTION}",
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/"
            "Microsoft.ContainerRegistry/registries/acme",
            "/providers/Microsoft.Management/managementGroups/platform",
        ],
    )
    def test_accepts_azure_scopes(self, scope: str) -> None:
        """Subscriptions, paths below them and management groups are scopes."""
        assert validate_azure_scope(scope) is None

    @pytest.mark.parametrize(
        ("scope", "problem"),
        [
            (f"/subscriptions/{SUBSCRIPTION}/", "end with '/'"),
            (f"/subscriptions/{SUBSCRIPTION}//resourceGroups/rg", "empty segment"),
            ("/subscriptions/not-a-guid", "must start with /subscriptions/"),
            ("/", "end with '/'"),
            ("resourceGroups/rg", "must start with /subscriptions/"),
        ],
    )
    def test_refuses_bad_azure_scopes(self, scope: str, problem: str) -> None:
        """Trailing slashes, empty segments and unknown roots are refused."""
        error = validate_azure_scope(scope)

        assert error is not None
        assert problem in error

    @pytest.mark.parametrize(
        ("role", "valid"),
        [
            ("roles/artifactregistry.reader", True),
            ("roles/iam.workloadIdentityUser", True),
            ("projects/my-project/roles/fluxReader", True),
            ("organizations/123456/roles/flux.reader", True),
            ("artifactregistry.reader", False),
            ("projects/my-project/roles/", False),
            ("roles/a b", False),
        ],
    )
    def test_gcp_roles(self, role: str, valid: bool) -> None:
        """Predefined and custom role names are accepted, anything else refused."""
        assert (validate_gcp_role(role) is None) is valid

    @pytest.mark.parametrize(
        ("arn", "valid"),
        [
            ("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", True),
            ("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy", True),
            ("arn:aws-us-gov:iam::123456789012:policy/flux/sops-decrypt", True),
            ("arn:aws-cn:iam::aws:policy/AmazonS3ReadOnlyAccess", True),
            ("arn:aws:iam::12345:policy/x", False),
            ("arn:aws:iam::aws:role/x", False),
            ("AmazonS3ReadOnlyAccess", False),
        ],
    )
    def test_aws_policy_arns(self, arn: str, valid: bool) -> None:
        """Managed and customer policy ARNs in the three partitions are accepted."""
        assert (validate_aws_policy_arn(arn) is None) is valid

    def test_problems_read_after_the_value(self) -> None:
        """Problems are phrased to follow the value in a message."""
        error = validate_gcp_role("reader")

        assert error is not None
        assert error.startswith("must be")
