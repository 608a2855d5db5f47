"""The fluxtrust program: read the stack's configuration, declare the trust graph, export it.

`__main__.py` at the project root runs `main()` under `pulumi up`; the offline plan runs the same
function under the mock engine.
"""

from __future__ import annotations

import json
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .config import CONFIG_NAMESPACE, ClusterConfig, IssuerHost, parse_stack_config
from .graph import TrustGraph, TrustGraphArgs
from .issuer import ClusterIssuer
from .migration import migration_guide

__all__ = ["PROJECT_DIR_OVERRIDE", "main", "read_raw_config"]

# Set by the offline plan, which runs the program from any working directory; under `pulumi up`
# the working directory is the project directory, where relative key paths are resolved.
PROJECT_DIR_OVERRIDE: ContextVar[str | None] = ContextVar("fluxtrust_project_dir", default=None)


def _configured_keys() -> set[str]:
    """Every `fluxtrust:*` key the stack sets, so that unknown ones are reported, not ignored."""
    keys = set(runtime_config.CONFIG.get())
    env = os.environ.get("PULUMI_CONFIG")
    if env:
        keys |= set(json.loads(env))
    prefix = f"{CONFIG_NAMESPACE}:"
    return {k.removeprefix(prefix) for k in keys if k.startswith(prefix)}


def read_raw_config() -> dict[str, Any]:
    """The stack's `fluxtrust:*` values as plain JSON-like values, keyed without namespace."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    return {key: config.get_object(key) for key in sorted(_configured_keys())}


def _migration_guide(cluster: ClusterConfig, issuer: ClusterIssuer) -> pulumi.Output[str]:
    """The safe order of steps for a cluster whose issuer is moving, or is set up in a bucket."""
    jwks_uri = issuer.jwks_uri if issuer.jwks_uri is not None else pulumi.Output.from_input(None)
    return pulumi.Output.all(issuer.issuer_url, jwks_uri).apply(
        lambda values: migration_guide(
            cluster=cluster.name,
            issuer=values[0],
            previous_issuers=cluster.previous_issuers,
            jwks_uri=values[1],
            self_hosted=isinstance(cluster.issuer, IssuerHost),
        )
    )


def main() -> None:
    """Validates the configuration, then declares the whole trust graph and exports it.

    Stack outputs:
        trustGraph: clusters (issuer, JWKS URI, hosting) and identities (per cloud: role ARN,
            client id, Google principal or service account, permissions).
        issuers: per cluster, the issuer URL, the issuers still trusted, the JWKS URI, and for
            self-hosted issuers the API server flags (and, for generated keys, the kind cluster
            configuration and the signing key as a secret).
        annotations: per cluster, per `namespace/name`, the annotations Flux reads.
        migrationGuides: per cluster whose issuer is moving or self-hosted, the safe order of
            the steps, with its URLs and API server flags filled in.
        fluxPatches: per cluster, the files to add to its `flux-system` kustomization.
    """
    stack_config = parse_stack_config(read_raw_config())
    project_dir = Path(PROJECT_DIR_OVERRIDE.get() or Path.cwd())
    graph = TrustGraph(
        "fluxtrust",
        TrustGraphArgs(config=stack_config, stack=pulumi.get_stack(), project_dir=project_dir),
    )
    pulumi.export("trustGraph", graph.graph)
    pulumi.export(
        "issuers",
        {
            name: {
                "issuerUrl": issuer.issuer_url,
                "trustedIssuers": issuer.trusted_issuers,
                "jwksUri": issuer.jwks_uri,
                "apiServerFlags": issuer.api_server_flags,
                "kindConfig": issuer.kind_config,
            }
            for name, issuer in sorted(graph.issuers.items())
        },
    )
    signing_keys = {
        name: issuer.signing_key_pem
        for name, issuer in sorted(graph.issuers.items())
        if issuer.signing_key_pem is not None
    }
    if signing_keys:
        # Exported as secrets: `pulumi stack output --show-secrets signingKeys` hands the key to
        # whoever builds the kind cluster.
        pulumi.export("signingKeys", pulumi.Output.secret(signing_keys))
    pulumi.export(
        "migrationGuides",
        {
            cluster.name: _migration_guide(cluster, graph.issuers[cluster.name])
            for cluster in sorted(stack_config.clusters, key=lambda c: c.name)
            if cluster.previous_issuers or isinstance(cluster.issuer, IssuerHost)
        },
    )
    pulumi.export("annotations", graph.annotations)
    pulumi.export("fluxPatches", graph.flux_patches)
