"""The 24 cells of Flux's cross-cloud matrix: each token accepted, and each forgery refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest
from fluxtrust.config import load_stack_file

from .cells import CELLS, Cell, Target
from .checks import (
    Exchange,
    controller_problems,
    exchange_for,
    grant_problems,
    issuer_problems,
    service_account_problems,
)
from .verifiers import Stage, TokenRefusedError, authenticate, published_issuer, verify
from .world import DEFAULT_STACK, UNTRUSTED_ISSUERS, CellSubject, World

# Each way a token can differ from the cell's, and the stage of the cloud's check that must
# refuse it. A trailing slash changes the issuer: discovery or the trust refuses it, depending on
# which the cloud compares first.
NEGATIVES: Mapping[str, frozenset[Stage]] = {
    "other-subject": frozenset({"trust"}),
    "other-namespace": frozenset({"trust"}),
    "other-audience": frozenset({"audience"}),
    "untrusted-issuer": frozenset({"trust"}),
    "unknown-key-same-kid": frozenset({"signature"}),
    "unknown-key-other-kid": frozenset({"signature"}),
    "expired": frozenset({"lifetime"}),
    "issuer-trailing-slash": frozenset({"discovery", "trust"}),
}

# The audience of the token every pod gets by default, for the Kubernetes API itself.
KUBERNETES_API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


def _other_stack_clusters() -> list[tuple[str, str, str]]:
    """(identity, cluster, cloud) for each cluster of the stack an identity does not trust."""
    config: dict[str, Any] = load_stack_file(DEFAULT_STACK)
    clusters = [str(c["name"]) for c in config["clusters"]]
    return [
        (identity["name"], cluster, cloud)
        for identity in config.get("identities") or []
        for cloud in ("aws", "azure", "gcp")
        if cloud in identity
        for cluster in clusters
        if cluster not in identity["clusters"]
    ]


OTHER_STACK_CLUSTERS = _other_stack_clusters()


def _forge(world: World, exchange: Exchange, case: str) -> str:
    """The cell's token, with the one difference the case names."""
    subject = exchange.subject
    cluster, namespace, name = subject.cluster, subject.namespace, subject.name
    audience = exchange.audience
    issuer = world.issuer(cluster)
    key, kid, now = world.keys[cluster], None, world.now
    if case == "other-subject":
        # The namespace's default ServiceAccount: what any other pod there runs as.
        name = "default" if name != "default" else "other"
    elif case == "other-namespace":
        namespace = "other-tenant"
    elif case == "other-audience":
        audience = KUBERNETES_API_AUDIENCE
    elif case == "untrusted-issuer":
        issuer, key = UNTRUSTED_ISSUERS[subject.cell.source], world.untrusted_key
    elif case == "unknown-key-same-kid":
        key, kid = world.rogue_key, world.keys[cluster].kid
    elif case == "unknown-key-other-kid":
        key = world.rogue_key
    elif case == "expired":
        now = world.now - 2 * 3600
    elif case == "issuer-trailing-slash":
        issuer = issuer[:-1] if issuer.endswith("/") else issuer + "/"
    else:
        msg = f"unknown negative case {case!r}"
        raise ValueError(msg)
    return world.token(
        cluster,
        namespace=namespace,
        name=name,
        audience=audience,
        issuer=issuer,
        key=key,
        kid=kid,
        now=now,
    )


@pytest.mark.parametrize("cell", CELLS, ids=lambda cell: cell.id)
def test_cell(world: World, cell: Cell) -> None:
    """The source cluster's token reaches the declared identity in the target cloud."""
    exchange = exchange_for(world, world.subject(cell))
    subject = exchange.subject
    token = world.token(
        subject.cluster, namespace=subject.namespace, name=subject.name, audience=exchange.audience
    )
    published = published_issuer(world.clouds.web, world.issuer(subject.cluster))
    claims = authenticate(world.clouds.web, token, world.now)
    grant = verify(world.clouds, token, exchange.request)

    assert claims["iss"] == world.issuer(subject.cluster)
    assert issuer_problems(world, subject.cluster, published) == []
    assert grant_problems(world, exchange, grant) == []
    assert service_account_problems(world, exchange) == []
    assert controller_problems(world, exchange) == []


@pytest.mark.parametrize(
    ("cell", "case"),
    [(cell, case) for cell in CELLS for case in NEGATIVES],
    ids=[f"{cell.id}-{case}" for cell in CELLS for case in NEGATIVES],
)
def test_cell_refuses(world: World, cell: Cell, case: str) -> None:
    """A token differing from the cell's in one respect is refused, at the stage that checks it."""
    exchange = exchange_for(world, world.subject(cell))
    token = _forge(world, exchange, case)

    with pytest.raises(TokenRefusedError) as refused:
        verify(world.clouds, token, exchange.request)
    assert refused.value.stage in NEGATIVES[case], refused.value.reason


@pytest.mark.parametrize(
    ("identity", "cluster", "target"),
    OTHER_STACK_CLUSTERS,
    ids=[f"{i}-from-{c}-{t}" for i, c, t in OTHER_STACK_CLUSTERS],
)
def test_other_stack_cluster_refused(
    world: World, identity: str, cluster: str, target: str
) -> None:
    """A stack cluster the identity does not trust cannot act as its ServiceAccount."""
    declared = world.identity(identity)
    trusted = str(declared["clusters"][0])
    cell = Cell(world.cluster(trusted)["type"], cast("Target", target), declared["level"])
    namespace, _, name = str(declared["serviceAccount"]).partition("/")
    exchange = exchange_for(world, CellSubject(cell, trusted, identity, namespace, name))
    token = world.token(cluster, namespace=namespace, name=name, audience=exchange.audience)

    with pytest.raises(TokenRefusedError) as refused:
        verify(world.clouds, token, exchange.request)
    assert refused.value.stage == "trust", refused.value.reason
