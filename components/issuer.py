"""The service-account issuer of each source cluster, and the public keys behind it.

Two steps, in this order:

1. `resolve_cluster_keys` reads the cluster's public keys (PEM files, a JWKS file, or the live
   cluster) before any resource is declared, so a bad key stops the program with nothing
   half-declared.
2. `ClusterIssuer` declares what the issuer needs: nothing for a managed cluster whose issuer
   is given or looked up, a public bucket for a self-hosted issuer, and a signing key for a
   cluster whose key fluxtrust generates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws_sdk
import pulumi_azure_native as azure_native
import pulumi_tls as tls

from .cluster_api import (
    ClusterFetchError,
    IssuerMismatchError,
    check_discovery_issuer,
    fetch_cluster_issuer,
    load_kubeconfig,
)
from .config import (
    CONFIG_NAMESPACE,
    AwsSettings,
    AzureSettings,
    ClusterConfig,
    GcpSettings,
    IssuerHost,
    IssuerLookup,
    IssuerUrl,
    JwksFile,
    JwksFromCluster,
    JwksGenerate,
    JwksPublicKeys,
)
from .issuer_hosting import (
    AzureBlobIssuerHost,
    AzureBlobIssuerHostArgs,
    GcsIssuerHost,
    GcsIssuerHostArgs,
    S3IssuerHost,
    S3IssuerHostArgs,
)
from .issuer_urls import conventional_jwks_uri, gke_issuer_url, hosted_issuer_url
from .jwks import (
    KeyMaterialError,
    api_server_flags,
    canonical_json,
    discovery_document,
    jwk_from_public_key,
    jwks_from_public_key_files,
    jwks_uri_for,
    kind_cluster_config,
    load_jwks_file,
    load_public_keys_pem,
)

__all__ = [
    "AksOidcIssuerDisabledError",
    "ClusterIssuer",
    "ClusterIssuerArgs",
    "ClusterKeys",
    "ClusterKeysError",
    "IssuerError",
    "check_cluster_issuer",
    "resolve_cluster_keys",
]

DEFAULT_KUBECONFIG = Path("~/.kube/config")


class IssuerError(pulumi.RunError):
    """A cluster's issuer cannot be declared; the message starts with the config key path."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.problem = message
        super().__init__(f"{path}: {message}")


class ClusterKeysError(IssuerError):
    """A cluster's public keys cannot be read: a bad key file, JWKS or live cluster."""


class AksOidcIssuerDisabledError(IssuerError):
    """An AKS cluster looked up at deploy time has no OIDC issuer."""


@dataclass(frozen=True)
class ClusterKeys:
    """A cluster's public signing keys, read before anything is declared.

    Attributes:
        jwks: the JWKS to publish, `{"keys": [...]}`: public members only, sorted by kid.
        source: where the keys were read, for messages (file names, or kubeconfig and context).
        cluster_kids: the kids the live cluster serves now (keys fetched from the cluster only;
            empty otherwise), kept to spot a key rotation the published copies have missed.
        cluster_issuer: the issuer the live cluster serves (keys fetched from the cluster only).
    """

    jwks: dict[str, Any]
    source: str
    cluster_kids: tuple[str, ...] = ()
    cluster_issuer: str | None = None

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids of the JWKS, in order."""
        return tuple(str(key["kid"]) for key in self.jwks["keys"])

    @property
    def jwks_json(self) -> str:
        """The JWKS as canonical JSON text (what buckets and GCP are given)."""
        return canonical_json(self.jwks)


def _cluster_path(cluster: ClusterConfig) -> str:
    return f"{CONFIG_NAMESPACE}:clusters[{cluster.index}]"


def _config_path(value: str, project_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else project_dir / path


def _kubeconfig_for(
    cluster: ClusterConfig, source: JwksFromCluster, project_dir: Path
) -> tuple[Path, str | None]:
    """The kubeconfig and context that reach the cluster.

    `fromCluster.kubeconfig` first, then the cluster's `kubernetes.kubeconfig` (whose context
    applies too, as it names the same cluster), then `~/.kube/config`.
    """
    access = cluster.kubernetes
    if source.kubeconfig is not None:
        return _config_path(source.kubeconfig, project_dir), source.context
    context = source.context or (access.context if access is not None else None)
    if access is not None and access.kubeconfig is not None:
        return _config_path(access.kubeconfig, project_dir), context
    return DEFAULT_KUBECONFIG.expanduser(), context


def _keys_from_files(
    cluster: ClusterConfig, source: JwksPublicKeys, project_dir: Path
) -> ClusterKeys:
    base = f"{_cluster_path(cluster)}.jwks.publicKeys"
    # One file at a time first, so that an error names the list entry that caused it.
    for index, name in enumerate(source.paths):
        try:
            jwks_from_public_key_files([Path(name)], base_dir=project_dir)
        except KeyMaterialError as exc:
            raise ClusterKeysError(f"{base}[{index}]", str(exc)) from exc
    try:
        jwks = jwks_from_public_key_files([Path(p) for p in source.paths], base_dir=project_dir)
    except KeyMaterialError as exc:
        # Each file is fine on its own: the same key is in two of them (the message names both).
        raise ClusterKeysError(base, str(exc)) from exc
    return ClusterKeys(jwks=jwks, source=", ".join(source.paths))


def _keys_from_cluster(
    cluster: ClusterConfig, source: JwksFromCluster, project_dir: Path, key: str = "fromCluster"
) -> ClusterKeys:
    base = _cluster_path(cluster)
    kubeconfig, context = _kubeconfig_for(cluster, source, project_dir)
    try:
        endpoint = load_kubeconfig(kubeconfig, context)
        documents = fetch_cluster_issuer(endpoint)
    except ClusterFetchError as exc:
        raise ClusterKeysError(f"{base}.jwks.{key}", str(exc)) from exc
    if isinstance(cluster.issuer, IssuerUrl):
        # A hosted issuer may legitimately differ from what the cluster serves before its API
        # server is switched over; a configured URL must be exactly the cluster's.
        try:
            check_discovery_issuer(documents, cluster.issuer.url, source=endpoint.source)
        except IssuerMismatchError as exc:
            raise ClusterKeysError(f"{base}.issuer.url", str(exc)) from exc
    return ClusterKeys(
        jwks=documents.jwks,
        source=endpoint.source,
        cluster_kids=tuple(str(key["kid"]) for key in documents.jwks["keys"]),
        cluster_issuer=documents.issuer,
    )


def resolve_cluster_keys(cluster: ClusterConfig, *, project_dir: Path) -> ClusterKeys | None:
    """Reads the public keys of a cluster, before any resource is declared.

    PEM public key files and JWKS files are read relative to `project_dir`; keys fetched from
    the cluster come from its API server, through `jwks.fromCluster.kubeconfig`, else the
    cluster's `kubernetes.kubeconfig`, else `~/.kube/config`. For a configured issuer URL, the
    issuer the cluster serves must equal it.

    Args:
        cluster: the validated cluster configuration.
        project_dir: the directory relative paths are resolved against.

    Returns:
        The keys, or None when the cluster has no `jwks` or fluxtrust generates its key (the
        key is then a resource, declared by `ClusterIssuer`).

    Raises:
        ClusterKeysError: naming the key path (e.g. `fluxtrust:clusters[0].jwks.publicKeys[1]`),
            the file or cluster, what is wrong and what is allowed.
    """
    source = cluster.jwks
    if source is None or isinstance(source, JwksGenerate):
        return None
    if isinstance(source, JwksPublicKeys):
        keys = _keys_from_files(cluster, source, project_dir)
    elif isinstance(source, JwksFile):
        try:
            jwks = load_jwks_file(Path(source.path), base_dir=project_dir)
        except KeyMaterialError as exc:
            raise ClusterKeysError(f"{_cluster_path(cluster)}.jwks.file", str(exc)) from exc
        keys = ClusterKeys(jwks=jwks, source=source.path)
    else:
        return _keys_from_cluster(cluster, source, project_dir)
    if source.check_cluster is None:
        return keys
    return _checked_against_cluster(cluster, source, keys, project_dir)


def _checked_against_cluster(
    cluster: ClusterConfig,
    source: JwksPublicKeys | JwksFile,
    keys: ClusterKeys,
    project_dir: Path,
) -> ClusterKeys:
    """Refuses a JWKS that lacks a key the live cluster still serves, unless told otherwise.

    The API server verifies with every key it serves and signs with one of them; removing one
    from the published copies (buckets, GCP's uploaded JWKS) while the cluster may still sign
    with it, or while tokens it signed are alive, makes every cloud refuse those tokens.
    """
    assert source.check_cluster is not None
    live = _keys_from_cluster(cluster, source.check_cluster, project_dir, key="checkCluster")
    missing = sorted(set(live.cluster_kids) - set(keys.kids))
    kind = "publicKeys" if isinstance(source, JwksPublicKeys) else "file"
    if missing and not source.allow_removing_cluster_keys:
        raise ClusterKeysError(
            f"{_cluster_path(cluster)}.jwks.{kind}",
            f"lacks {len(missing)} key(s) the cluster still serves and may sign with "
            f"({', '.join(missing)}, from {live.source}): publishing this JWKS would make every "
            "cloud refuse tokens signed with them. Keep the old public key until the cluster "
            "no longer serves it and its tokens have expired, or set "
            "jwks.allowRemovingClusterKeys: true to remove it anyway",
        )
    return ClusterKeys(
        jwks=keys.jwks,
        source=keys.source,
        cluster_kids=live.cluster_kids,
        cluster_issuer=live.cluster_issuer,
    )


# --------------------------------------------------------------------------------------------
# The component


@dataclass
class ClusterIssuerArgs:
    """Arguments of `ClusterIssuer`."""

    cluster: ClusterConfig
    """The validated cluster configuration."""
    keys: ClusterKeys | None
    """The cluster's public keys from `resolve_cluster_keys` (None: generated, or not given)."""
    aws: AwsSettings | None = None
    """`fluxtrust:aws`: the region of an S3-hosted issuer and of EKS look-ups."""
    azure: AzureSettings | None = None
    """`fluxtrust:azure`: resource group and location of a Blob-hosted issuer and AKS look-ups."""
    gcp: GcpSettings | None = None
    """`fluxtrust:gcp`: the project of a GCS-hosted issuer and of GKE clusters."""


@dataclass(frozen=True)
class _SelfSet:
    """The issuer fluxtrust tells the API server to use: a hosted one, or a generated key's."""

    issuer: str
    jwks_uri: str
    flags: list[str]


@dataclass(frozen=True)
class _Layout:
    """What the configuration alone says about the issuer, checked before declaring anything."""

    static_url: str | None  # None: looked up at deploy time
    self_set: _SelfSet | None
    generate: JwksGenerate | None


def _layout(args: ClusterIssuerArgs) -> _Layout:
    cluster = args.cluster
    base = _cluster_path(cluster)
    issuer = cluster.issuer
    generate = cluster.jwks if isinstance(cluster.jwks, JwksGenerate) else None
    if cluster.jwks is not None and generate is None and args.keys is None:
        msg = f"cluster {cluster.name!r}: pass the keys from resolve_cluster_keys()"
        raise ValueError(msg)

    static_url: str | None = None
    if isinstance(issuer, IssuerUrl):
        static_url = issuer.url
    elif isinstance(issuer, IssuerHost):
        needed = {"aws": args.aws, "azure": args.azure, "gcp": args.gcp}[issuer.cloud]
        if needed is None:
            raise IssuerError(
                f"{base}.issuer.host.cloud",
                f"is {issuer.cloud}, which needs {CONFIG_NAMESPACE}:{issuer.cloud} to be set "
                "(it says where the bucket is created)",
            )
        if cluster.jwks is None:
            raise IssuerError(
                f"{base}.jwks", "is required: a hosted issuer publishes the cluster's public keys"
            )
        static_url = hosted_issuer_url(issuer, aws_region=args.aws.region if args.aws else None)
    elif cluster.type == "gke":
        project = issuer.project or (args.gcp.project if args.gcp else None)
        if project is None or issuer.location is None:
            raise IssuerError(
                f"{base}.issuer.lookup",
                f"needs location and a project (lookup.project or {CONFIG_NAMESPACE}:gcp.project) "
                "to build the GKE issuer URL",
            )
        static_url = gke_issuer_url(project, issuer.location, issuer.name)
    elif cluster.type == "eks" and issuer.region is None and args.aws is None:
        raise IssuerError(
            f"{base}.issuer.lookup.region", f"is required when {CONFIG_NAMESPACE}:aws is not set"
        )
    elif cluster.type == "aks" and issuer.resource_group is None and args.azure is None:
        raise IssuerError(
            f"{base}.issuer.lookup.resourceGroup",
            f"is required when {CONFIG_NAMESPACE}:azure is not set",
        )
    elif cluster.type not in ("eks", "aks"):
        raise IssuerError(
            f"{base}.issuer.lookup", "is for aks, eks and gke clusters; give url or host"
        )

    if static_url is not None:
        for index, previous in enumerate(cluster.previous_issuers):
            if previous == static_url:
                raise IssuerError(
                    f"{base}.previousIssuers[{index}]",
                    "is the cluster's current issuer; list only issuers being retired",
                )

    self_set: _SelfSet | None = None
    if isinstance(issuer, IssuerHost) or generate is not None:
        if static_url is None:
            raise IssuerError(
                f"{base}.jwks.generate",
                "needs an issuer known from the configuration (url or host)",
            )
        jwks_uri = conventional_jwks_uri(static_url)
        try:
            flags = api_server_flags(static_url, cluster.previous_issuers, jwks_uri)
        except ValueError as exc:
            raise IssuerError(f"{base}.previousIssuers", str(exc)) from exc
        self_set = _SelfSet(static_url, jwks_uri, flags)
    return _Layout(static_url, self_set, generate)


def _host_slug(host: IssuerHost) -> str:
    """The bucket (or storage account and container) a host's resources are named after.

    Named by where the documents live, not by whether the issuer is current: when the issuer
    moves on and this one is retired, its resources keep their names and nothing is replaced.
    """
    if host.cloud == "azure":
        return f"{host.storage_account}-{host.container}"
    return str(host.bucket)


def check_cluster_issuer(args: ClusterIssuerArgs) -> None:
    """Checks what `ClusterIssuer` would declare, without declaring anything.

    `ClusterIssuer` runs the same checks first; a program declaring several issuers calls this
    for all of them beforehand, so that one bad cluster leaves nothing half-declared.

    Raises:
        IssuerError: naming the key path, e.g. a hosted issuer whose cloud settings are missing,
            or a `previousIssuers` entry equal to the issuer it is meant to follow.
        ValueError: `args.keys` is missing for a cluster whose keys must be resolved first.
    """
    _layout(args)


def _jwks_json_from_pem(pem: str) -> str:
    source = "generated signing key"
    keys = load_public_keys_pem(pem.encode("ascii"), source=source)
    return canonical_json({"keys": [jwk_from_public_key(k, source=source) for k in keys]})


def _discovery_json(issuer: str, jwks_uri: str, jwks_json: str) -> str:
    return canonical_json(discovery_document(issuer, jwks_uri, json.loads(jwks_json)))


class ClusterIssuer(pulumi.ComponentResource):
    """The service-account issuer of one source cluster, and what publishes it.

    Per issuer source: a configured URL is used exactly as written (an AKS issuer keeps its
    trailing slash); an EKS or AKS cluster is looked up at deploy time; a GKE issuer is built
    from project, location and name; a hosted issuer gets a public bucket in its cloud with
    the discovery document and the JWKS. With `jwks.generate`, a signing key is declared and
    kept in the stack's state, so the JWKS stays the same from one run to the next.

    Attributes:
        issuer_url: the current issuer (for a hosted one, resolved once both documents are
            uploaded, so that whatever trusts it waits for them).
        previous_issuers: issuers still trusted while a migration is under way.
        trusted_issuers: the current issuer, then the previous ones.
        jwks_uri: the JWKS URI the API server advertises, when fluxtrust sets it (hosted or
            generated); None otherwise.
        jwks_json: the public JWKS as canonical JSON, when fluxtrust knows the keys (given,
            fetched or generated); what a GCP provider can be given instead of fetching it.
        api_server_flags: hosted or generated only: `--service-account-issuer` for the new
            issuer, then one per previous issuer, then `--service-account-jwks-uri`.
        signing_key_pem: generated only: the PKCS#8 private key (secret).
        kind_config: generated only: a kind cluster configuration using the key and issuer.
    """

    issuer_url: pulumi.Output[str]
    previous_issuers: tuple[str, ...]
    trusted_issuers: pulumi.Output[list[str]]
    jwks_uri: pulumi.Output[str] | None
    jwks_json: pulumi.Output[str] | None
    api_server_flags: pulumi.Output[list[str]] | None
    signing_key_pem: pulumi.Output[str] | None
    kind_config: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ClusterIssuerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        layout = _layout(args)
        super().__init__("fluxtrust:issuer:ClusterIssuer", name, None, opts)
        cluster = args.cluster
        self.previous_issuers = cluster.previous_issuers
        self.signing_key_pem = None
        self.kind_config = None

        self.jwks_json = None
        if layout.generate is not None:
            key = self._signing_key(name, layout.generate)
            self.jwks_json = key.public_key_pem.apply(_jwks_json_from_pem)
            self.signing_key_pem = pulumi.Output.secret(key.private_key_pem_pkcs8)
        elif args.keys is not None:
            self.jwks_json = pulumi.Output.from_input(args.keys.jwks_json)

        # Whatever depends on a hosted issuer waits until both documents are published.
        published: list[pulumi.Output[str]] = []
        if isinstance(cluster.issuer, IssuerHost):
            # _layout guarantees both for a hosted issuer.
            assert layout.self_set is not None
            assert self.jwks_json is not None
            host = self._host(name, cluster.issuer, args, layout.self_set, self.jwks_json)
            published = [host.discovery_url, host.jwks_url]
            self.issuer_url = _after(layout.self_set.issuer, published)
        elif layout.static_url is not None:
            self.issuer_url = pulumi.Output.from_input(layout.static_url)
        else:
            assert isinstance(cluster.issuer, IssuerLookup)
            self.issuer_url = self._look_up(cluster, cluster.issuer, args)

        # A retired issuer that fluxtrust published keeps its bucket, under the same resource
        # names it had as the current issuer, until it leaves previousIssuers: tokens it signed
        # must still verify, and clouds fetch its JWKS to verify them.
        for old_url, old_host in cluster.previous_hosts:
            assert self.jwks_json is not None  # config validation: a published issuer has keys
            retired = _SelfSet(old_url, jwks_uri_for(old_url.removesuffix("/")), [])
            self._host(name, old_host, args, retired, self.jwks_json)

        self.trusted_issuers = cast(
            "pulumi.Output[list[str]]",
            pulumi.Output.all(self.issuer_url, *cluster.previous_issuers),
        )
        self.jwks_uri = None
        self.api_server_flags = None
        if layout.self_set is not None:
            self_set = layout.self_set
            self.jwks_uri = pulumi.Output.from_input(self_set.jwks_uri)
            # The API server must not be switched before the documents are public.
            self.api_server_flags = cast(
                "pulumi.Output[list[str]]", _after(self_set.flags, published)
            )
            if layout.generate is not None:
                text = kind_cluster_config(
                    issuer=self_set.issuer,
                    jwks_uri=self_set.jwks_uri,
                    previous_issuers=cluster.previous_issuers,
                )
                self.kind_config = _after(text, published)

        outputs: dict[str, Any] = {
            "issuerUrl": self.issuer_url,
            "previousIssuers": list(self.previous_issuers),
            "trustedIssuers": self.trusted_issuers,
            "jwksUri": self.jwks_uri,
            "jwksJson": self.jwks_json,
            "apiServerFlags": self.api_server_flags,
            "signingKeyPem": self.signing_key_pem,
            "kindConfig": self.kind_config,
        }
        self.register_outputs({k: v for k, v in outputs.items() if v is not None})

    def _signing_key(self, name: str, generate: JwksGenerate) -> tls.PrivateKey:
        # The key lives in the stack's state: a key made in Python on every run would change
        # the JWKS (and every copy of it) on every preview.
        if generate.algorithm == "ES256":
            return tls.PrivateKey(
                f"{name}-signing-key",
                algorithm="ECDSA",
                ecdsa_curve="P256",
                opts=pulumi.ResourceOptions(parent=self),
            )
        return tls.PrivateKey(
            f"{name}-signing-key",
            algorithm="RSA",
            rsa_bits=2048,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _host(
        self,
        name: str,
        host: IssuerHost,
        args: ClusterIssuerArgs,
        self_set: _SelfSet,
        jwks_json: pulumi.Output[str],
    ) -> S3IssuerHost | AzureBlobIssuerHost | GcsIssuerHost:
        discovery = jwks_json.apply(
            lambda text: _discovery_json(self_set.issuer, self_set.jwks_uri, text)
        )
        child = pulumi.ResourceOptions(parent=self)
        # _layout has checked that the host's cloud settings and names are present.
        if host.cloud == "aws" and args.aws is not None and host.bucket is not None:
            return S3IssuerHost(
                f"{name}-host-{_host_slug(host)}",
                S3IssuerHostArgs(
                    bucket=host.bucket,
                    region=args.aws.region,
                    discovery_json=discovery,
                    jwks_json=jwks_json,
                ),
                opts=child,
            )
        if (
            host.cloud == "azure"
            and args.azure is not None
            and host.storage_account is not None
            and host.container is not None
        ):
            return AzureBlobIssuerHost(
                f"{name}-host-{_host_slug(host)}",
                AzureBlobIssuerHostArgs(
                    storage_account=host.storage_account,
                    container=host.container,
                    resource_group=args.azure.resource_group,
                    location=args.azure.location,
                    discovery_json=discovery,
                    jwks_json=jwks_json,
                ),
                opts=child,
            )
        if host.cloud == "gcp" and args.gcp is not None and host.bucket is not None:
            return GcsIssuerHost(
                f"{name}-host-{_host_slug(host)}",
                GcsIssuerHostArgs(
                    bucket=host.bucket,
                    project=args.gcp.project,
                    discovery_json=discovery,
                    jwks_json=jwks_json,
                ),
                opts=child,
            )
        msg = f"incomplete {host.cloud} issuer host for cluster {args.cluster.name!r}"
        raise ValueError(msg)

    def _look_up(
        self, cluster: ClusterConfig, lookup: IssuerLookup, args: ClusterIssuerArgs
    ) -> pulumi.Output[str]:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        path = f"{_cluster_path(cluster)}.issuer.lookup"
        if cluster.type == "eks":
            region = lookup.region or (args.aws.region if args.aws else None)
            eks = aws_sdk.eks.get_cluster_output(name=lookup.name, region=region, opts=invoke)
            return eks.apply(lambda found: _eks_issuer(found, path, lookup.name))
        group = lookup.resource_group or (args.azure.resource_group if args.azure else "")
        aks = azure_native.containerservice.get_managed_cluster_output(
            resource_group_name=group, resource_name=lookup.name, opts=invoke
        )
        return aks.apply(lambda found: _aks_issuer(found, path, group, lookup.name))


def _after(value: Any, published: list[pulumi.Output[str]]) -> pulumi.Output[Any]:
    """`value`, resolved only once every output in `published` has (so it depends on them)."""
    if not published:
        return pulumi.Output.from_input(value)
    return pulumi.Output.all(*published).apply(lambda _: value)


def _eks_issuer(found: aws_sdk.eks.GetClusterResult, path: str, name: str) -> str:
    # Every EKS cluster has an OIDC issuer; an empty answer means the look-up found no cluster.
    if not found.identities or not found.identities[0].oidcs:
        raise IssuerError(path, f"EKS cluster {name!r} reports no OIDC issuer")
    return found.identities[0].oidcs[0].issuer


def _aks_issuer(
    found: azure_native.containerservice.GetManagedClusterResult, path: str, group: str, name: str
) -> str:
    profile = found.oidc_issuer_profile
    if profile is None or not profile.enabled or not profile.issuer_url:
        raise AksOidcIssuerDisabledError(
            path,
            f"AKS cluster {name!r} in resource group {group!r} has its OIDC issuer disabled; "
            f"enable it with `az aks update --resource-group {group} --name {name} "
            "--enable-oidc-issuer` (it cannot be disabled again), then run again",
        )
    return profile.issuer_url
