"""Human views of a plan: a table for review, and Mermaid or Graphviz pictures of the trust graph.

They all read the `trustGraph` stack output, which the program builds from the same values it
hands the providers, so the pictures cannot disagree with the resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .plan import Plan

__all__ = ["render_dot", "render_mermaid", "render_table"]


def _graph(plan: Plan) -> Mapping[str, Any]:
    graph = plan.outputs.get("trustGraph")
    return graph if isinstance(graph, Mapping) else {"clusters": [], "identities": []}


def _permissions(cloud: str, access: Mapping[str, Any]) -> list[str]:
    if cloud == "aws":
        perms = list(access.get("policyArns", []))
        if access.get("inlinePolicy"):
            perms.append("inline policy")
        return perms
    if cloud == "azure":
        return [f"{r['role']} @ {r['scope']}" for r in access.get("roles", [])]
    return list(access.get("roles", []))


def _trust_label(cloud: str, access: Mapping[str, Any]) -> str:
    if cloud == "aws":
        return f"role {access.get('roleArn', '?')}"
    if cloud == "azure":
        return f"managed identity {access.get('name', '?')} (client {access.get('clientId', '?')})"
    mode = access.get("access", "direct")
    if mode == "impersonation":
        return f"impersonates {access.get('serviceAccount', '?')}"
    return "direct access as its federated principal"


def render_table(plan: Plan) -> str:
    """A review table grouped cluster -> issuer -> cloud -> identity -> permissions."""
    graph = _graph(plan)
    identities = {i["name"]: i for i in graph.get("identities", [])}
    lines = [f"fluxtrust plan for stack {plan.stack!r}", ""]
    for cluster in graph.get("clusters", []):
        lines.append(f"cluster {cluster['name']} ({cluster['type']})")
        lines.append(f"  issuer    {cluster['issuerUrl']}")
        for previous in cluster.get("previousIssuers", []):
            lines.append(f"  previous  {previous}  (still trusted during migration)")
        if cluster.get("hosting"):
            lines.append(f"  published {cluster['hosting']}")
        if cluster.get("jwksUri"):
            lines.append(f"  jwks      {cluster['jwksUri']}")
        for cloud in ("aws", "azure", "gcp"):
            users = [
                identities[name]
                for name in cluster.get("identities", [])
                if name in identities and cloud in identities[name].get("clouds", {})
            ]
            if not users:
                continue
            lines.append(f"  -> {cloud}")
            for ident in users:
                access = ident["clouds"][cloud]
                lines.append(
                    f"     {ident['name']} [{ident['level']}] {ident['serviceAccount']}: "
                    f"{_trust_label(cloud, access)}"
                )
                lines.extend(f"       - {perm}" for perm in _permissions(cloud, access))
        lines.append("")
    counts: dict[str, int] = {}
    for resource in plan.resources:
        if resource.custom:
            counts[resource.type] = counts.get(resource.type, 0) + 1
    lines.append(f"{sum(counts.values())} cloud and cluster resources:")
    lines.extend(f"  {count:3d}  {token}" for token, count in sorted(counts.items()))
    return "\n".join(lines) + "\n"


def _node_id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _edges(plan: Plan) -> Iterator[tuple[str, str, str, str, str]]:
    """(cluster, identity, level, cloud, label) for every trust the graph declares."""
    graph = _graph(plan)
    for ident in graph.get("identities", []):
        for cloud, access in sorted(ident.get("clouds", {}).items()):
            label = ", ".join(_permissions(cloud, access)) or cloud
            for cluster in ident.get("clusters", []):
                yield cluster, ident["name"], ident["level"], cloud, label


def _cluster_list(plan: Plan) -> Sequence[Mapping[str, Any]]:
    return list(_graph(plan).get("clusters", []))


@dataclass(frozen=True)
class _Syntax:
    """How one picture language writes the graph's nodes and edges."""

    header: tuple[str, ...]
    footer: tuple[str, ...]
    cluster: str  # {node}, {name}, {type}, {issuer}
    cloud: str  # {cloud}, {label}
    identity: str  # {node}, {identity}, {level}, {label}
    to_cloud: str  # {node}, {cloud}
    from_cluster: str  # {cluster}, {node}, {level}


_MERMAID = _Syntax(
    header=("flowchart LR",),
    footer=(),
    cluster='  {node}["{name} ({type})<br/>{issuer}"]',
    cloud="  {cloud}(({label}))",
    identity='  {node}["{identity} [{level}]<br/>{label}"]',
    to_cloud="  {node} --> {cloud}",
    from_cluster="  {cluster} -->|{level}| {node}",
)

_DOT = _Syntax(
    header=("digraph fluxtrust {", "  rankdir=LR;", "  node [shape=box];"),
    footer=("}",),
    cluster='  {node} [label="{name} ({type})\\n{issuer}"];',
    cloud='  {cloud} [shape=ellipse, label="{label}"];',
    identity='  {node} [label="{identity} [{level}]\\n{label}"];',
    to_cloud="  {node} -> {cloud};",
    from_cluster='  {cluster} -> {node} [label="{level}"];',
)

_CLOUD_LABELS = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


def _draw(plan: Plan, syntax: _Syntax) -> str:
    lines = list(syntax.header)
    for cluster in _cluster_list(plan):
        lines.append(
            syntax.cluster.format(
                node=_node_id("c", cluster["name"]),
                name=cluster["name"],
                type=cluster["type"],
                issuer=cluster["issuerUrl"],
            )
        )
    lines += [syntax.cloud.format(cloud=c, label=label) for c, label in _CLOUD_LABELS.items()]
    seen: set[str] = set()
    for source, identity, level, cloud, label in _edges(plan):
        node = _node_id("i", identity, cloud)
        if node not in seen:
            seen.add(node)
            lines.append(
                syntax.identity.format(node=node, identity=identity, level=level, label=label)
            )
            lines.append(syntax.to_cloud.format(node=node, cloud=cloud))
        lines.append(
            syntax.from_cluster.format(cluster=_node_id("c", source), node=node, level=level)
        )
    lines += syntax.footer
    return "\n".join(lines) + "\n"


def render_mermaid(plan: Plan) -> str:
    """A Mermaid flowchart, ready to paste into a pull request inside a ```mermaid block."""
    return _draw(plan, _MERMAID)


def render_dot(plan: Plan) -> str:
    """A Graphviz digraph of the same graph (`dot -Tsvg`)."""
    return _draw(plan, _DOT)
