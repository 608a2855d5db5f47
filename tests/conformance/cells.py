"""The cells of Flux's cross-cloud compatibility matrix, and the README tables drawn from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "CELLS",
    "LEVELS",
    "SOURCES",
    "TARGETS",
    "Cell",
    "Level",
    "Source",
    "Target",
    "render_compatibility_tables",
]

Source: TypeAlias = Literal["aks", "eks", "gke", "other"]
Target: TypeAlias = Literal["aws", "azure", "gcp"]
Level: TypeAlias = Literal["controller", "object"]

SOURCES: tuple[Source, ...] = ("aks", "eks", "gke", "other")
TARGETS: tuple[Target, ...] = ("aws", "azure", "gcp")
LEVELS: tuple[Level, ...] = ("object", "controller")


@dataclass(frozen=True)
class Cell:
    """One source cluster type reaching one target cloud at one level."""

    source: Source
    target: Target
    level: Level

    @property
    def id(self) -> str:
        """The cell's name in test ids, e.g. `other-gcp-object`."""
        return f"{self.source}-{self.target}-{self.level}"


# Every cell the conformance suite proves; the matrix tests are parametrised over this list and
# the README's table is rendered from it, so the README claims exactly what the suite checks.
CELLS: tuple[Cell, ...] = tuple(
    Cell(source, target, level) for level in LEVELS for source in SOURCES for target in TARGETS
)

_ROW_LABELS: dict[Source, str] = {
    "aks": "AKS",
    "eks": "EKS",
    "gke": "GKE",
    "other": "Other (e.g. `kind`)",
}
_COLUMN_LABELS: dict[Target, str] = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}
_TABLE_TITLES: dict[Level, str] = {
    "object": "Authentication at the object level (best for multi-tenant use cases)",
    "controller": "Authentication at the controller level (best for single-tenant use cases)",
}


def _pad(text: str, width: int) -> str:
    """Pads to a display width; the two marks are wide characters, two columns each."""
    shown = len(text) + sum(text.count(mark) for mark in ("✅", "❌"))
    return text + " " * (width - shown)


def _table(level: Level, proven: frozenset[Cell]) -> list[str]:
    """One level's table, in the layout of Flux's cross-cloud page."""
    header = ["Source Cluster Type", *_COLUMN_LABELS.values()]
    widths = [max(len(header[0]), *(len(label) for label in _ROW_LABELS.values()))]
    widths += [len(label) for label in _COLUMN_LABELS.values()]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(_pad(c, w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [f"#### {_TABLE_TITLES[level]}", "", row(header)]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for source in SOURCES:
        marks = ["✅" if Cell(source, t, level) in proven else "❌" for t in TARGETS]
        lines.append(row([_ROW_LABELS[source], *marks]))
    return lines


def render_compatibility_tables(cells: Iterable[Cell]) -> str:
    """The README section: both tables, a ✅ for each cell the suite proves and ❌ elsewhere."""
    proven = frozenset(cells)
    lines = [
        "## Cross-cloud compatibility",
        "",
        "Every ✅ below is a passing conformance test, `test_cell[<source>-<target>-<level>]`",
        "in `tests/conformance/test_matrix.py`: the default stack is planned with signing keys the",
        "test controls, the source cluster's ServiceAccount token is minted, and the plan's trust",
        "is checked the way the target cloud checks it (discovery, signature, then the IAM trust",
        "policy, the federated credential, or the workload identity provider with its CEL mapping",
        "and condition and the IAM binding), along with the tokens it must refuse.",
        "",
    ]
    for level in LEVELS:
        lines.extend(_table(level, proven))
        lines.append("")
    return "\n".join(lines)
