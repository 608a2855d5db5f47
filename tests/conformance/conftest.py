"""Session fixtures: the suite's signing keys, and the stack planned once with them."""

from __future__ import annotations

import pytest
from _pytest.terminal import TerminalReporter
from fluxtrust.config import load_stack_file

from .cells import CELLS
from .tokens import SigningKey
from .world import DEFAULT_STACK, World, build_world


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    """One RSA 2048 key per cluster of the stack, one for an untrusted cluster, one rogue key."""
    clusters = load_stack_file(DEFAULT_STACK)["clusters"]
    assert isinstance(clusters, list)
    names = [str(c["name"]) for c in clusters] + ["untrusted", "rogue"]
    return {name: SigningKey.generate() for name in names}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, signing_keys: dict[str, SigningKey]) -> World:
    """The default stack, planned once for the session in a project holding the suite's keys."""
    return build_world(tmp_path_factory.mktemp("conformance-project"), signing_keys)


# Each cell's outcome, gathered from its acceptance test and its refusal tests, so that the
# run's summary names all 24 cells whatever pytest's verbosity.
_OUTCOMES: dict[str, list[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Records the outcome of every cell test, keyed by the cell's id."""
    name = report.nodeid.rpartition("::")[2]
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for prefix in ("test_cell[", "test_cell_refuses["):
        if name.startswith(prefix):
            cell_id = name.removeprefix(prefix).removesuffix("]")
            cell = next((c.id for c in CELLS if cell_id.startswith(c.id)), cell_id)
            _OUTCOMES.setdefault(cell, []).append(report.outcome)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Prints each cell of the compatibility matrix by name, proven or not."""
    if not _OUTCOMES:
        return
    terminalreporter.section("cross-cloud compatibility matrix, cell by cell")
    for cell in CELLS:
        outcomes = _OUTCOMES.get(cell.id, [])
        proven = bool(outcomes) and all(o == "passed" for o in outcomes)
        verdict = "proven" if proven else "NOT PROVEN"
        terminalreporter.write_line(
            f"{cell.id:<22} {verdict} ({outcomes.count('passed')} of {len(outcomes)} checks passed)"
        )
