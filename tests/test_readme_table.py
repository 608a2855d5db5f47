"""The README's compatibility table claims exactly the cells the conformance suite proves."""

from __future__ import annotations

from pathlib import Path

from conformance.cells import CELLS, render_compatibility_tables

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- compatibility-table:start -->"
END = "<!-- compatibility-table:end -->"


def readme_section() -> str:
    """The README text between the compatibility-table markers, without its outer blank lines."""
    text = README.read_text(encoding="utf-8")
    assert START in text, f"README.md lacks the marker {START}"
    section = text.split(START, 1)[1]
    assert END in section, f"README.md lacks the marker {END} after {START}"
    return section.split(END, 1)[0].strip("\n")


def test_readme_table_is_rendered_from_the_suite() -> None:
    """The section between the markers is the rendering of the cells the matrix tests cover."""
    expected = render_compatibility_tables(CELLS).strip("\n")

    assert readme_section() == expected


def test_every_cell_is_distinct() -> None:
    """The suite parametrises over 24 distinct cells: 4 source types, 3 clouds, 2 levels."""
    ids = [cell.id for cell in CELLS]

    assert len(set(ids)) == len(ids) == 24


def test_a_missing_cell_shows_as_not_proven() -> None:
    """Rendering without a cell marks it ❌, so the README could not claim it."""
    rendered = render_compatibility_tables([c for c in CELLS if c.id != "other-gcp-object"])

    assert "| Other (e.g. `kind`) | ✅  | ✅    | ❌  |" in rendered
