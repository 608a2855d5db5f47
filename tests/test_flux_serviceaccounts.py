"""Tests for the Kubernetes side: the annotations Flux reads, on patched or created accounts."""

from __future__ import annotations

import pulumi
from fluxtrust.flux_serviceaccounts import (
    FluxServiceAccounts,
    FluxServiceAccountsArgs,
    ServiceAccountSpec,
)
from fluxtrust.plan import Plan, run_plan

ROLE_ARN = "arn:aws:iam::123456789012:role/fluxtrust-dev-source-oci"


def plan_accounts(*accounts: ServiceAccountSpec) -> Plan:
    """Declares one cluster's accounts as a program of its own."""

    def program() -> None:
        FluxServiceAccounts(
            "kind",
            FluxServiceAccountsArgs(
                cluster_name="kind",
                accounts=list(accounts),
                kubeconfig="/home/ci/.kube/config",
                context="kind-ci",
            ),
        )

    return run_plan({}, stack="test", program=program)


class TestControllerLevel:
    def test_controller_account_is_patched_not_created(self) -> None:
        """Flux owns its controller accounts: fluxtrust only applies the annotations to them."""
        plan = plan_accounts(
            ServiceAccountSpec(
                "flux-system",
                "source-controller",
                "controller",
                {"eks.amazonaws.com/role-arn": ROLE_ARN},
            )
        )

        assert plan.of_type("kubernetes:core/v1:ServiceAccount") == []
        patch = plan.named("kind-flux-system-source-controller")
        assert patch.type == "kubernetes:core/v1:ServiceAccountPatch"
        assert patch.inputs["metadata"] == {
            "name": "source-controller",
            "namespace": "flux-system",
            "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN},
        }


class TestObjectLevel:
    def test_tenant_account_is_created_with_annotations_and_label(self) -> None:
        """A tenant account is created, annotated, and labelled as fluxtrust's."""
        annotations = {
            "azure.workload.identity/client-id": "c0ffee00-0000-4000-8000-000000000000",
            "azure.workload.identity/tenant-id": "11111111-2222-3333-4444-555555555555",
        }

        plan = plan_accounts(
            ServiceAccountSpec(
                "apps", "flux-tenant", "object", pulumi.Output.from_input(annotations)
            )
        )

        account = plan.named("kind-apps-flux-tenant")
        assert account.type == "kubernetes:core/v1:ServiceAccount"
        assert account.inputs["metadata"]["annotations"] == annotations
        assert account.inputs["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "fluxtrust"}


class TestProvider:
    def test_provider_uses_the_cluster_kubeconfig_and_context(self) -> None:
        """Every account goes through one provider for the cluster, with server-side apply."""
        plan = plan_accounts(
            ServiceAccountSpec("apps", "flux-tenant", "object", {"k": "v"}),
        )

        provider = plan.named("kind-k8s")
        assert provider.type == "pulumi:providers:kubernetes"
        assert provider.inputs["kubeconfig"] == "/home/ci/.kube/config"
        assert provider.inputs["context"] == "kind-ci"
        assert provider.inputs["enableServerSideApply"] == "true"
