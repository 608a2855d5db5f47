"""The whole trust graph of a stack: issuers, cloud trust, ServiceAccounts, and Flux patches.

`TrustGraph` composes the other components from a validated `StackConfig`. Everything that can
fail on bad input (reading key files, fetching a cluster's keys) happens before the component
registers itself, so a bad input declares nothing.

Resource names depend on the names in the configuration and on the issuer URLs, never on the
position of an entry in a list: reordering clusters or identities changes nothing, and when an
issuer moves into `previousIssuers` the resources that trust it keep their names and stay.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

from .aws_trust import (
    AwsFederatedRole,
    AwsFederatedRoleArgs,
    AwsFederation,
    AwsOidcProvider,
    AwsOidcProviderArgs,
    aws_role_name,
)
from .azure_trust import (
    AzureCredential,
    AzureFederatedIdentity,
    AzureFederatedIdentityArgs,
    azure_identity_name,
)
from .config import (
    ClusterConfig,
    IdentityConfig,
    IssuerHost,
    IssuerLookup,
    IssuerUrl,
    StackConfig,
)
from .flux_config import (
    ControllerTarget,
    aws_annotations,
    azure_annotations,
    controller_env_patch,
    controller_gcp_configmaps,
    gcp_annotations,
    merge_annotations,
    object_level_feature_gate_patch,
    render_kustomization,
)
from .flux_serviceaccounts import FluxServiceAccounts, FluxServiceAccountsArgs, ServiceAccountSpec
from .gcp_trust import (
    GcpClusterProvider,
    GcpClusterProviderArgs,
    GcpIdentityAccess,
    GcpIdentityAccessArgs,
    GcpWorkloadIdentityPool,
    GcpWorkloadIdentityPoolArgs,
    gcp_service_account_id,
)
from .issuer import (
    ClusterIssuer,
    ClusterIssuerArgs,
    ClusterKeys,
    check_cluster_issuer,
    resolve_cluster_keys,
)
from .issuer_urls import static_issuer_url
from .trust_policy import (
    check_aws_oidc_provider_count,
    gcp_gke_workload_identity_member,
    gcp_gke_workload_identity_principal,
    gcp_principal,
    gcp_provider_id,
    gcp_workload_identity_provider_name,
)

__all__ = ["OBJECT_LEVEL_CONTROLLERS", "TrustGraph", "TrustGraphArgs", "issuer_key"]

# The controllers that act for objects naming a tenant ServiceAccount (OCIRepository, Bucket,
# GitRepository; Kustomization decryption; notification Provider; ImageRepository), and so take
# the object-level workload identity feature gate.
OBJECT_LEVEL_CONTROLLERS = (
    "source-controller",
    "kustomize-controller",
    "notification-controller",
    "image-reflector-controller",
)


# Keys of issuers only known at deploy time; never a real issuer URL (".invalid" cannot resolve).
LOOKUP_KEY_PREFIX = "https://lookup.fluxtrust.invalid/"


def issuer_key(cluster: ClusterConfig, config: StackConfig) -> str:
    """A stable text naming the cluster's current issuer, known before anything is deployed.

    The URL itself where the configuration fixes it (a given URL, a hosted issuer, a GKE
    cluster); for an EKS or AKS cluster whose issuer is looked up at deploy time, an https-form
    text of the look-up's own arguments. Names derived from it stay put when the same issuer
    later moves into `previousIssuers`.
    """
    url = static_issuer_url(cluster, aws=config.aws, gcp=config.gcp)
    if url is not None:
        return url
    issuer = cluster.issuer
    assert isinstance(issuer, IssuerLookup)  # every other source has a static URL
    where = issuer.region or issuer.resource_group or ""
    return f"{LOOKUP_KEY_PREFIX}{cluster.type}/{where}/{issuer.name}"


def _reused_provider_arn(cluster: ClusterConfig, key: str, current: bool) -> str | None:
    """The existing IAM OIDC provider to reuse for this issuer, if the cluster names one.

    An EKS cluster often has its provider already, and creating a second one for the same URL
    fails. An ARN ends with its issuer's host and path, so each trusted issuer finds its own:
    the old issuer's provider stays in use when a rebuilt cluster's issuer moves into
    previousIssuers.
    """
    if key.startswith(LOOKUP_KEY_PREFIX):
        # Validation allows one ARN for a looked-up issuer: it names the current issuer.
        reused = cluster.aws_oidc_provider_arns
        return reused[0] if current and reused else None
    host_path = key.removeprefix("https://")
    for arn in cluster.aws_oidc_provider_arns:
        if arn.endswith(f":oidc-provider/{host_path}"):
            return arn
    return None


def _check_aws_provider_quota(config: StackConfig, stack: str) -> None:
    """Refuses a stack that alone needs more IAM OIDC providers than an account holds.

    IAM allows 100 per account by default. The stack's own count is a floor (the account may hold
    others), but a stack above it could never apply, so it is refused before anything is declared.
    """
    if config.aws is None:
        return
    clusters = {c for i in config.identities if i.aws is not None for c in i.clusters}
    declared = 0
    for name in clusters:
        cluster = config.cluster(name)
        keys = [(issuer_key(cluster, config), True)] + [
            (u, False) for u in cluster.previous_issuers
        ]
        declared += sum(
            1 for key, current in keys if _reused_provider_arn(cluster, key, current) is None
        )
    check_aws_oidc_provider_count(
        declared, account_label=config.aws.account_id or f"the account of stack {stack}"
    )


def _short(text: str) -> str:
    """An 8-character digest: keeps names stable and distinct per issuer."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class _TrustedIssuer:
    """One issuer a cluster's tokens may carry: the current one, or one being retired."""

    cluster: ClusterConfig
    url: pulumi.Output[str]
    key: str  # stable text of the issuer (see issuer_key)
    current: bool


@dataclass
class TrustGraphArgs:
    """Arguments of `TrustGraph`."""

    config: StackConfig
    """The validated stack configuration."""
    stack: str
    """The stack name, part of the cloud resources' physical names (roles, identities)."""
    project_dir: Path
    """The directory relative key and JWKS paths are resolved against."""


class TrustGraph(pulumi.ComponentResource):
    """Every trust a stack declares, from each cluster's issuer to each cloud identity."""

    issuers: dict[str, ClusterIssuer]
    """Cluster name -> its issuer component."""
    graph: pulumi.Output[dict[str, Any]]
    """A structured description of the graph (what `python -m fluxtrust plan` renders)."""
    flux_patches: dict[str, pulumi.Output[dict[str, str]]]
    """Cluster name -> {file name: text} of the Flux bootstrap patches it needs."""
    annotations: dict[str, dict[str, pulumi.Output[dict[str, str]]]]
    """Cluster name -> `namespace/name` -> the annotations on that ServiceAccount."""

    def __init__(
        self,
        name: str,
        args: TrustGraphArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        config = args.config
        # Key files and live clusters are read, and every issuer is checked, before anything is
        # registered: a bad key, an unreachable cluster or an impossible issuer stops the
        # program with nothing declared.
        keys: dict[str, ClusterKeys | None] = {
            c.name: resolve_cluster_keys(c, project_dir=args.project_dir) for c in config.clusters
        }

        issuer_args = {
            c.name: ClusterIssuerArgs(
                cluster=c, keys=keys[c.name], aws=config.aws, azure=config.azure, gcp=config.gcp
            )
            for c in sorted(config.clusters, key=lambda c: c.name)
        }
        for each in issuer_args.values():
            check_cluster_issuer(each)
        _check_aws_provider_quota(config, args.stack)

        super().__init__("fluxtrust:graph:TrustGraph", name, None, opts)
        self._name = name
        self._config = config
        self._stack = args.stack
        child = pulumi.ResourceOptions(parent=self)

        self.issuers = {
            cluster_name: ClusterIssuer(f"{name}-{each.cluster.naming}", each, opts=child)
            for cluster_name, each in issuer_args.items()
        }

        identities = sorted(config.identities, key=lambda i: i.name)
        self._aws_roles = self._declare_aws(identities, child)
        self._azure_identities = self._declare_azure(identities, child)
        self._gcp_providers, self._gcp_access = self._declare_gcp(identities, child)

        self.annotations = self._declare_service_accounts(identities, child)
        self.flux_patches = {c.name: self._flux_patches(c, identities) for c in config.clusters}
        self.graph = self._describe(identities)
        self.register_outputs(
            {
                "trustGraph": self.graph,
                "fluxPatches": self.flux_patches,
            }
        )

    # ----------------------------------------------------------------------------------------
    # Issuers

    def _trusted_issuers(self, cluster: ClusterConfig) -> list[_TrustedIssuer]:
        """The cluster's current issuer, then every issuer it is migrating away from."""
        issuer = self.issuers[cluster.name]
        current = issuer_key(cluster, self._config)
        trusted = [_TrustedIssuer(cluster, issuer.issuer_url, current, True)]
        trusted += [
            _TrustedIssuer(cluster, pulumi.Output.from_input(url), url, False)
            for url in cluster.previous_issuers
        ]
        return trusted

    # ----------------------------------------------------------------------------------------
    # AWS

    def _declare_aws(
        self, identities: Sequence[IdentityConfig], child: pulumi.ResourceOptions
    ) -> dict[str, AwsFederatedRole]:
        users = [i for i in identities if i.aws is not None]
        if not users:
            return {}
        settings = self._config.aws
        assert settings is not None  # config validation: an aws block needs fluxtrust:aws

        # One OIDC provider per issuer per account: clusters used by several identities share it.
        providers: dict[str, AwsOidcProvider] = {}
        for cluster_name in sorted({c for i in users for c in i.clusters}):
            cluster = self._config.cluster(cluster_name)
            for trusted in self._trusted_issuers(cluster):
                # Named by the issuer alone: IAM holds one provider per URL, so renaming the
                # cluster must not make Pulumi create a second one next to the first.
                providers[trusted.key] = AwsOidcProvider(
                    f"{self._name}-aws-oidc-{_short(trusted.key)}",
                    AwsOidcProviderArgs(
                        issuer_url=trusted.url,
                        existing_arn=_reused_provider_arn(cluster, trusted.key, trusted.current),
                    ),
                    opts=child,
                )

        roles: dict[str, AwsFederatedRole] = {}
        for ident in users:
            assert ident.aws is not None
            federations = [
                AwsFederation(
                    provider_arn=providers[trusted.key].arn,
                    issuer_url=trusted.url,
                    subject=ident.service_account.subject,
                )
                for cluster_name in sorted(ident.clusters)
                for trusted in self._trusted_issuers(self._config.cluster(cluster_name))
            ]
            roles[ident.name] = AwsFederatedRole(
                f"{self._name}-{ident.naming}-aws",
                AwsFederatedRoleArgs(
                    role_name=aws_role_name(self._stack, ident.naming),
                    federations=federations,
                    policy_arns=ident.aws.policy_arns,
                    inline_policy=ident.aws.inline_policy,
                    description=(
                        f"Flux {ident.level}-level identity {ident.name}: "
                        f"{ident.service_account} on {', '.join(sorted(ident.clusters))}"
                    ),
                    trust_policy_max_chars=settings.trust_policy_max_chars,
                ),
                opts=child,
            )
        return roles

    # ----------------------------------------------------------------------------------------
    # Azure

    def _declare_azure(
        self, identities: Sequence[IdentityConfig], child: pulumi.ResourceOptions
    ) -> dict[str, AzureFederatedIdentity]:
        settings = self._config.azure
        out: dict[str, AzureFederatedIdentity] = {}
        for ident in identities:
            if ident.azure is None:
                continue
            assert settings is not None  # config validation: an azure block needs fluxtrust:azure
            credentials = [
                AzureCredential(
                    cluster_name=trusted.cluster.naming,
                    issuer_url=trusted.url,
                    subject=ident.service_account.subject,
                    key=f"{trusted.cluster.naming}-{_short(trusted.key)}",
                )
                for cluster_name in sorted(ident.clusters)
                for trusted in self._trusted_issuers(self._config.cluster(cluster_name))
            ]
            out[ident.name] = AzureFederatedIdentity(
                f"{self._name}-{ident.naming}-azure",
                AzureFederatedIdentityArgs(
                    identity_name=azure_identity_name(self._stack, ident.naming),
                    resource_group=settings.resource_group,
                    location=settings.location,
                    subscription_id=settings.subscription_id,
                    credentials=credentials,
                    roles=ident.azure.roles,
                    tags={"fluxtrust-stack": self._stack, "fluxtrust-identity": ident.name},
                ),
                opts=child,
            )
        return out

    # ----------------------------------------------------------------------------------------
    # GCP

    def _uses_gke_identity(self, cluster: ClusterConfig) -> bool:
        """A GKE cluster in the trusting project uses GKE's built-in workload identity pool."""
        settings = self._config.gcp
        if cluster.type != "gke" or settings is None:
            return False
        issuer = cluster.issuer
        if isinstance(issuer, IssuerLookup):
            return (issuer.project or settings.project) == settings.project
        if isinstance(issuer, IssuerUrl):
            return f"/projects/{settings.project}/" in issuer.url
        return False

    def _declare_gcp(
        self, identities: Sequence[IdentityConfig], child: pulumi.ResourceOptions
    ) -> tuple[dict[tuple[str, str], GcpClusterProvider], dict[str, GcpIdentityAccess]]:
        users = [i for i in identities if i.gcp is not None]
        settings = self._config.gcp
        if not users or settings is None:
            return {}, {}

        federated = sorted(
            {
                c
                for i in users
                for c in i.clusters
                if not self._uses_gke_identity(self._config.cluster(c))
            }
        )
        providers: dict[tuple[str, str], GcpClusterProvider] = {}
        if federated:
            pool = GcpWorkloadIdentityPool(
                f"{self._name}-gcp-pool",
                GcpWorkloadIdentityPoolArgs(
                    project=settings.project,
                    pool_id=settings.pool,
                    display_name=f"fluxtrust {self._stack}",
                ),
                opts=child,
            )
            for cluster_name in federated:
                cluster = self._config.cluster(cluster_name)
                # The condition admits exactly the ServiceAccounts this stack trusts from this
                # cluster; every other workload of the cluster is refused by the provider.
                subjects = sorted(
                    {i.service_account.subject for i in users if cluster_name in i.clusters}
                )
                issuer = self.issuers[cluster_name]
                for trusted in self._trusted_issuers(cluster):
                    provider_id = gcp_provider_id(cluster.naming, trusted.key)
                    # Every provider of the cluster, the retired issuers' too, holds the same keys:
                    # an issuer change does not change the keys tokens are signed with, and a
                    # provider left to fetch them would depend on the old issuer staying up.
                    upload = cluster.gcp_jwks == "upload"
                    providers[(cluster.name, trusted.key)] = GcpClusterProvider(
                        f"{self._name}-{cluster.naming}-gcp-{provider_id}",
                        GcpClusterProviderArgs(
                            project=settings.project,
                            project_number=settings.project_number,
                            pool_id=settings.pool,
                            provider_id=provider_id,
                            issuer_url=trusted.url,
                            subjects=subjects,
                            jwks_json=issuer.jwks_json if upload else None,
                            display_name=cluster.name,
                        ),
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[pool]),
                    )

        access: dict[str, GcpIdentityAccess] = {}
        for ident in users:
            assert ident.gcp is not None
            members: set[str] = set()
            for cluster_name in ident.clusters:
                cluster = self._config.cluster(cluster_name)
                sa = ident.service_account
                if not self._uses_gke_identity(cluster):
                    # Every provider of the pool maps google.subject = assertion.sub, so one
                    # principal stands for this ServiceAccount from any cluster of the pool
                    # whose provider admits it (config validation keeps one identity per
                    # ServiceAccount per pool).
                    members.add(gcp_principal(settings.project_number, settings.pool, sa.subject))
                elif ident.gcp.access == "impersonation":
                    members.add(
                        gcp_gke_workload_identity_member(settings.project, sa.namespace, sa.name)
                    )
                else:
                    members.add(
                        gcp_gke_workload_identity_principal(
                            settings.project_number, settings.project, sa.namespace, sa.name
                        )
                    )
            access[ident.name] = GcpIdentityAccess(
                f"{self._name}-{ident.naming}-gcp",
                GcpIdentityAccessArgs(
                    project=settings.project,
                    project_number=settings.project_number,
                    identity_name=ident.naming,
                    members=sorted(members),
                    roles=ident.gcp.roles,
                    access=ident.gcp.access,
                    service_account_id=(
                        gcp_service_account_id(self._stack, ident.naming)
                        if ident.gcp.access == "impersonation"
                        else None
                    ),
                ),
                opts=child,
            )
        return providers, access

    def _gcp_provider_name(self, cluster: ClusterConfig) -> str | None:
        """The workload identity provider of the cluster's current issuer, if it has one."""
        settings = self._config.gcp
        current = issuer_key(cluster, self._config)
        if settings is None or (cluster.name, current) not in self._gcp_providers:
            return None
        return gcp_workload_identity_provider_name(
            settings.project_number, settings.pool, gcp_provider_id(cluster.naming, current)
        )

    # ----------------------------------------------------------------------------------------
    # Kubernetes side

    def _annotations_for(
        self, ident: IdentityConfig, cluster: ClusterConfig
    ) -> pulumi.Output[dict[str, str]]:
        """Exactly the annotations Flux reads to find this identity from this cluster."""
        parts: list[pulumi.Output[dict[str, str]]] = []
        if ident.name in self._aws_roles:
            parts.append(self._aws_roles[ident.name].arn.apply(aws_annotations))
        if ident.name in self._azure_identities:
            settings = self._config.azure
            assert settings is not None
            tenant = settings.tenant_id
            parts.append(
                self._azure_identities[ident.name].client_id.apply(
                    lambda client_id: azure_annotations(client_id, tenant)
                )
            )
        if ident.name in self._gcp_access:
            provider = self._gcp_provider_name(cluster)
            email = self._gcp_access[ident.name].service_account_email
            email_output = email if email is not None else pulumi.Output.from_input(None)
            parts.append(
                email_output.apply(
                    lambda e: gcp_annotations(
                        service_account_email=e, workload_identity_provider=provider
                    )
                )
            )
        return pulumi.Output.all(*parts).apply(lambda ps: merge_annotations(*ps))

    def _declare_service_accounts(
        self, identities: Sequence[IdentityConfig], child: pulumi.ResourceOptions
    ) -> dict[str, dict[str, pulumi.Output[dict[str, str]]]]:
        out: dict[str, dict[str, pulumi.Output[dict[str, str]]]] = {}
        for cluster in sorted(self._config.clusters, key=lambda c: c.name):
            on_cluster = [i for i in identities if cluster.name in i.clusters]
            # One ServiceAccount may serve several identities, one per cloud (validated), so
            # the annotations of all of them are merged onto it.
            by_account: dict[str, list[IdentityConfig]] = {}
            for ident in on_cluster:
                by_account.setdefault(str(ident.service_account), []).append(ident)
            cluster_annotations = {
                account: pulumi.Output.all(
                    *(self._annotations_for(i, cluster) for i in idents)
                ).apply(lambda ps: merge_annotations(*ps))
                for account, idents in sorted(by_account.items())
            }
            out[cluster.name] = cluster_annotations
            if cluster.kubernetes is None or not by_account:
                continue
            FluxServiceAccounts(
                f"{self._name}-{cluster.naming}-serviceaccounts",
                FluxServiceAccountsArgs(
                    cluster_name=cluster.name,
                    kubeconfig=cluster.kubernetes.kubeconfig,
                    context=cluster.kubernetes.context,
                    accounts=[
                        ServiceAccountSpec(
                            namespace=idents[0].service_account.namespace,
                            name=idents[0].service_account.name,
                            level=idents[0].level,
                            annotations=cluster_annotations[account],
                        )
                        for account, idents in sorted(by_account.items())
                    ],
                ),
                opts=child,
            )
        return out

    # ----------------------------------------------------------------------------------------
    # Flux bootstrap patches

    def _controller_targets(
        self, cluster: ClusterConfig, identities: Sequence[IdentityConfig]
    ) -> pulumi.Output[list[ControllerTarget]]:
        settings_aws = self._config.aws
        settings_azure = self._config.azure
        settings_gcp = self._config.gcp
        targets: list[pulumi.Output[ControllerTarget]] = []
        for ident in identities:
            if ident.level != "controller" or cluster.name not in ident.clusters:
                continue
            controller = ident.service_account.name
            if ident.name in self._aws_roles and settings_aws is not None:
                region = settings_aws.region
                targets.append(
                    self._aws_roles[ident.name].arn.apply(
                        functools.partial(_aws_target, controller, region)
                    )
                )
            if ident.name in self._azure_identities and settings_azure is not None:
                tenant = settings_azure.tenant_id
                targets.append(
                    self._azure_identities[ident.name].client_id.apply(
                        functools.partial(_azure_target, controller, tenant)
                    )
                )
            if ident.name in self._gcp_access and settings_gcp is not None:
                provider = self._gcp_provider_name(cluster)
                audience = f"//iam.googleapis.com/{provider}" if provider else None
                email = self._gcp_access[ident.name].service_account_email
                email_output = email if email is not None else pulumi.Output.from_input(None)
                targets.append(
                    email_output.apply(functools.partial(_gcp_target, controller, audience))
                )
        return pulumi.Output.all(*targets).apply(list)

    def _flux_patches(
        self, cluster: ClusterConfig, identities: Sequence[IdentityConfig]
    ) -> pulumi.Output[dict[str, str]]:
        """The files to add to the cluster's `flux-system` kustomization for its identities."""
        object_level = any(i.level == "object" and cluster.name in i.clusters for i in identities)
        cluster_type = cluster.type

        def render(targets: list[ControllerTarget]) -> dict[str, str]:
            patches = controller_env_patch(cluster_type, targets)
            if object_level:
                patches += object_level_feature_gate_patch(OBJECT_LEVEL_CONTROLLERS)
            files: dict[str, str] = {}
            resources: list[str] = []
            configmaps = controller_gcp_configmaps(cluster_type, targets)
            if configmaps:
                files["fluxtrust-gcp-credentials.yaml"] = _yaml_stream(configmaps)
                resources.append("fluxtrust-gcp-credentials.yaml")
            if patches or resources:
                files["kustomization.yaml"] = render_kustomization(patches, resources)
            return files

        return self._controller_targets(cluster, identities).apply(render)

    # ----------------------------------------------------------------------------------------
    # Description for review

    def _describe(self, identities: Sequence[IdentityConfig]) -> pulumi.Output[dict[str, Any]]:
        clusters: list[Any] = []
        for cluster in sorted(self._config.clusters, key=lambda c: c.name):
            issuer = self.issuers[cluster.name]
            hosting = None
            if isinstance(cluster.issuer, IssuerHost):
                host = cluster.issuer
                where = host.bucket or f"{host.storage_account}/{host.container}"
                hosting = f"{host.cloud} {where}"
            clusters.append(
                {
                    "name": cluster.name,
                    "type": cluster.type,
                    "issuerUrl": issuer.issuer_url,
                    "previousIssuers": list(cluster.previous_issuers),
                    "jwksUri": issuer.jwks_uri,
                    "hosting": hosting,
                    "gcpJwks": cluster.gcp_jwks,
                    "identities": sorted(i.name for i in identities if cluster.name in i.clusters),
                }
            )
        described: list[Any] = []
        for ident in identities:
            clouds: dict[str, Any] = {}
            if ident.aws is not None and ident.name in self._aws_roles:
                clouds["aws"] = {
                    "roleArn": self._aws_roles[ident.name].arn,
                    "policyArns": list(ident.aws.policy_arns),
                    "inlinePolicy": ident.aws.inline_policy is not None,
                }
            if ident.azure is not None and ident.name in self._azure_identities:
                uami = self._azure_identities[ident.name]
                clouds["azure"] = {
                    "name": azure_identity_name(self._stack, ident.naming),
                    "clientId": uami.client_id,
                    "principalId": uami.principal_id,
                    "roles": [{"role": r.role, "scope": r.scope} for r in ident.azure.roles],
                }
            if ident.gcp is not None and ident.name in self._gcp_access:
                gcp_access = self._gcp_access[ident.name]
                clouds["gcp"] = {
                    "access": ident.gcp.access,
                    "serviceAccount": gcp_access.service_account_email,
                    "members": gcp_access.members,
                    "roles": [r.role for r in ident.gcp.roles],
                }
            described.append(
                {
                    "name": ident.name,
                    "level": ident.level,
                    "serviceAccount": str(ident.service_account),
                    "clusters": sorted(ident.clusters),
                    "clouds": clouds,
                }
            )
        return pulumi.Output.from_input({"clusters": clusters, "identities": described}).apply(dict)


def _aws_target(controller: str, region: str, role_arn: str) -> ControllerTarget:
    return ControllerTarget.aws(controller, role_arn=role_arn, region=region)


def _azure_target(controller: str, tenant_id: str, client_id: str) -> ControllerTarget:
    return ControllerTarget.azure(controller, client_id=client_id, tenant_id=tenant_id)


def _gcp_target(controller: str, audience: str | None, email: str | None) -> ControllerTarget:
    return ControllerTarget.gcp(controller, audience=audience, service_account_email=email)


def _yaml_stream(documents: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all(list(documents), sort_keys=True, default_flow_style=False)
