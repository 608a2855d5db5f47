"""Session fixtures: the suite's signing keys, and the stack planned once with them."""

from __future__ import annotations

import pytest
from fluxtrust.config import load_stack_file

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
