"""The safe order of an issuer change or a key rotation, written out for the cluster at hand.

An API server given several `--service-account-issuer` values signs with the first and accepts
them all, and clouds cache a JWKS for an undocumented time. Doing the steps of a migration in the
wrong order locks Flux (and every other workload using federated tokens) out of its clouds, so
fluxtrust exports the steps for each cluster whose issuer is moving, with its own URLs filled in.
"""

from __future__ import annotations

from collections.abc import Sequence

from .jwks import api_server_flags, jwks_uri_for

__all__ = ["TOKEN_LIFETIME_HINT", "migration_guide"]

# Kubernetes caps projected ServiceAccount tokens at the API server's
# --service-account-max-token-expiration (default: none beyond what pods ask; Flux's projected
# tokens ask for one hour, and the kubelet refreshes them at 80% of their life).
TOKEN_LIFETIME_HINT = (
    "the longest lifetime of a token the old issuer signed: one hour for Flux's projected "
    "tokens, longer if other workloads request longer-lived tokens"
)


def migration_guide(
    *,
    cluster: str,
    issuer: str,
    previous_issuers: Sequence[str],
    jwks_uri: str | None,
    self_hosted: bool,
) -> str:
    """The ordered steps to move `cluster` onto `issuer` without interrupting Flux.

    Args:
        cluster: the cluster's name in the stack.
        issuer: the new (current) issuer URL.
        previous_issuers: the issuers being retired, still trusted by every cloud.
        jwks_uri: where the new issuer's JWKS is published, when fluxtrust publishes it.
        self_hosted: whether fluxtrust publishes the discovery documents (then the cluster's API
            server flags are the user's to change); False for a managed cluster, whose cloud
            changes the issuer itself (a rebuilt cluster).
    """
    moving = bool(previous_issuers)
    steps: list[str] = []
    if self_hosted:
        steps.append(
            "Run `pulumi up` with the new issuer configured and the old one under "
            "previousIssuers: this publishes the new discovery documents and adds the new issuer "
            "to every cloud's trust, next to the old one."
            if moving
            else "Run `pulumi up`: this publishes the discovery documents and adds the issuer to "
            "every cloud's trust."
        )
        steps.append(
            f"Check the new documents are public and correct: `python -m fluxtrust verify "
            f"--cluster {cluster}` (or `curl {issuer.rstrip('/')}/.well-known/openid-configuration`"
            + (f" and `curl {jwks_uri}`" if jwks_uri else "")
            + ")."
        )
        flags = api_server_flags(issuer, previous_issuers, jwks_uri or jwks_uri_for(issuer))
        steps.append(
            (
                "Only then change the API server flags, the new issuer FIRST (it signs new "
                "tokens) and every old one after it (still accepted): "
                if moving
                else "Only then set the API server flags: "
            )
            + " ".join(flags)
        )
    else:
        steps.append(
            "Run `pulumi up` with the cluster's new issuer configured and the old one under "
            "previousIssuers, before workloads move to the rebuilt cluster: every cloud then "
            "trusts both."
        )
    if not moving:
        header = f"Issuer setup for cluster {cluster}: {issuer}"
        return "\n".join([header, *(f"{i}. {s}" for i, s in enumerate(steps, start=1))]) + "\n"
    steps.append(
        f"Wait out {TOKEN_LIFETIME_HINT}, so that no token signed by the old issuer is "
        "still in use."
    )
    if self_hosted:
        steps.append(
            "Remove the old issuer from the API server flags, then from previousIssuers, and run "
            "`pulumi up` again: that removes the old issuer's trust from every cloud."
        )
    else:
        steps.append(
            "Remove the old issuer from previousIssuers and run `pulumi up`: that removes its "
            "trust from every cloud."
        )
    header = (
        f"Issuer migration for cluster {cluster}: to {issuer}, "
        f"retiring {', '.join(previous_issuers)}"
    )
    return "\n".join([header, *(f"{i}. {s}" for i, s in enumerate(steps, start=1))]) + "\n"
