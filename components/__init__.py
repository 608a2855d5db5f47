"""fluxtrust: Pulumi components for secret-less trust between Flux clusters and AWS, Azure, GCP.

Each component is usable on its own from any Pulumi program::

    from fluxtrust import AwsOidcProvider, AwsOidcProviderArgs

The names below are imported on first use, so that `python -m fluxtrust --help` and the pure
modules (configuration, JWKS, trust builders) do not load every cloud provider's SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aws_trust import (
        AwsFederatedRole,
        AwsFederatedRoleArgs,
        AwsFederation,
        AwsOidcProvider,
        AwsOidcProviderArgs,
    )
    from .azure_trust import AzureCredential, AzureFederatedIdentity, AzureFederatedIdentityArgs
    from .config import StackConfig, parse_stack_config
    from .errors import ConfigError
    from .flux_serviceaccounts import (
        FluxServiceAccounts,
        FluxServiceAccountsArgs,
        ServiceAccountSpec,
    )
    from .gcp_trust import (
        GcpClusterProvider,
        GcpClusterProviderArgs,
        GcpIdentityAccess,
        GcpIdentityAccessArgs,
        GcpWorkloadIdentityPool,
        GcpWorkloadIdentityPoolArgs,
    )
    from .graph import TrustGraph, TrustGraphArgs
    from .issuer import ClusterIssuer, ClusterIssuerArgs, resolve_cluster_keys
    from .issuer_hosting import (
        AzureBlobIssuerHost,
        AzureBlobIssuerHostArgs,
        GcsIssuerHost,
        GcsIssuerHostArgs,
        S3IssuerHost,
        S3IssuerHostArgs,
    )

_EXPORTS = {
    "AwsFederatedRole": "aws_trust",
    "AwsFederatedRoleArgs": "aws_trust",
    "AwsFederation": "aws_trust",
    "AwsOidcProvider": "aws_trust",
    "AwsOidcProviderArgs": "aws_trust",
    "AzureBlobIssuerHost": "issuer_hosting",
    "AzureBlobIssuerHostArgs": "issuer_hosting",
    "AzureCredential": "azure_trust",
    "AzureFederatedIdentity": "azure_trust",
    "AzureFederatedIdentityArgs": "azure_trust",
    "ClusterIssuer": "issuer",
    "ClusterIssuerArgs": "issuer",
    "ConfigError": "errors",
    "FluxServiceAccounts": "flux_serviceaccounts",
    "FluxServiceAccountsArgs": "flux_serviceaccounts",
    "GcpClusterProvider": "gcp_trust",
    "GcpClusterProviderArgs": "gcp_trust",
    "GcpIdentityAccess": "gcp_trust",
    "GcpIdentityAccessArgs": "gcp_trust",
    "GcpWorkloadIdentityPool": "gcp_trust",
    "GcpWorkloadIdentityPoolArgs": "gcp_trust",
    "GcsIssuerHost": "issuer_hosting",
    "GcsIssuerHostArgs": "issuer_hosting",
    "S3IssuerHost": "issuer_hosting",
    "S3IssuerHostArgs": "issuer_hosting",
    "ServiceAccountSpec": "flux_serviceaccounts",
    "StackConfig": "config",
    "TrustGraph": "graph",
    "TrustGraphArgs": "graph",
    "parse_stack_config": "config",
    "resolve_cluster_keys": "issuer",
}

__all__ = [
    "AwsFederatedRole",
    "AwsFederatedRoleArgs",
    "AwsFederation",
    "AwsOidcProvider",
    "AwsOidcProviderArgs",
    "AzureBlobIssuerHost",
    "AzureBlobIssuerHostArgs",
    "AzureCredential",
    "AzureFederatedIdentity",
    "AzureFederatedIdentityArgs",
    "ClusterIssuer",
    "ClusterIssuerArgs",
    "ConfigError",
    "FluxServiceAccounts",
    "FluxServiceAccountsArgs",
    "GcpClusterProvider",
    "GcpClusterProviderArgs",
    "GcpIdentityAccess",
    "GcpIdentityAccessArgs",
    "GcpWorkloadIdentityPool",
    "GcpWorkloadIdentityPoolArgs",
    "GcsIssuerHost",
    "GcsIssuerHostArgs",
    "S3IssuerHost",
    "S3IssuerHostArgs",
    "ServiceAccountSpec",
    "StackConfig",
    "TrustGraph",
    "TrustGraphArgs",
    "parse_stack_config",
    "resolve_cluster_keys",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'fluxtrust' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(f".{module}", __name__), name)
