"""The Kubernetes side of the trust: the annotations Flux reads on its ServiceAccounts.

Controller-level identities are Flux's own controller ServiceAccounts, which `flux bootstrap`
already manages; fluxtrust only adds its annotations to them with a server-side apply patch, so
it never takes over (or deletes) the rest of the object. Object-level identities are tenant
ServiceAccounts that fluxtrust creates with their annotations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from .config import Level

__all__ = ["FluxServiceAccounts", "FluxServiceAccountsArgs", "ServiceAccountSpec"]

# Marks the objects and fields fluxtrust owns, so that a reviewer can tell them apart in a cluster.
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "fluxtrust"}


@dataclass(frozen=True)
class ServiceAccountSpec:
    """One ServiceAccount and the annotations it must carry."""

    namespace: str
    """The ServiceAccount's namespace."""
    name: str
    """The ServiceAccount's name."""
    level: Level
    """controller: patch Flux's existing controller ServiceAccount; object: create a tenant one."""
    annotations: pulumi.Input[Mapping[str, str]]
    """The annotations Flux reads to find the cloud identity (role ARN, client id, ...)."""


@dataclass
class FluxServiceAccountsArgs:
    """Arguments of `FluxServiceAccounts`."""

    cluster_name: str
    """The cluster's name in the stack, used in resource names."""
    accounts: Sequence[ServiceAccountSpec]
    """The ServiceAccounts to annotate (controller level) or create (object level)."""
    kubeconfig: str | None = None
    """Path of the kubeconfig; None uses the provider's default (KUBECONFIG, ~/.kube/config)."""
    context: str | None = None
    """The kubeconfig context to use; None uses the current context."""


class FluxServiceAccounts(pulumi.ComponentResource):
    """The ServiceAccounts of one cluster, annotated for the clouds their identities reach."""

    service_accounts: dict[str, pulumi.Output[str]]
    """`namespace/name` -> the ServiceAccount's name once applied."""

    def __init__(
        self,
        name: str,
        args: FluxServiceAccountsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("fluxtrust:kubernetes:FluxServiceAccounts", name, None, opts)

        kubeconfig = str(Path(args.kubeconfig).expanduser()) if args.kubeconfig else None
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=args.context,
            # Server-side apply is what lets a patch own only the fields it sets.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.service_accounts = {}
        for spec in sorted(args.accounts, key=lambda s: (s.namespace, s.name)):
            child = f"{name}-{spec.namespace}-{spec.name}"
            child_opts = pulumi.ResourceOptions(parent=self, provider=provider)
            if spec.level == "controller":
                patch = k8s.core.v1.ServiceAccountPatch(
                    child,
                    metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                        name=spec.name,
                        namespace=spec.namespace,
                        annotations=spec.annotations,
                    ),
                    opts=child_opts,
                )
                self.service_accounts[f"{spec.namespace}/{spec.name}"] = patch.metadata.apply(
                    lambda m: str(m.name) if m is not None else ""
                )
            else:
                account = k8s.core.v1.ServiceAccount(
                    child,
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=spec.name,
                        namespace=spec.namespace,
                        annotations=spec.annotations,
                        labels=MANAGED_BY_LABEL,
                    ),
                    opts=child_opts,
                )
                self.service_accounts[f"{spec.namespace}/{spec.name}"] = account.metadata.apply(
                    lambda m: str(m.name)
                )

        self.register_outputs({"serviceAccounts": self.service_accounts})
