"""The package's public names: each resolves, and nothing else pretends to."""

from __future__ import annotations

import fluxtrust
import pytest


def test_every_public_name_resolves() -> None:
    """Each name in fluxtrust.__all__ imports its component or function."""
    resolved = {name: getattr(fluxtrust, name) for name in fluxtrust.__all__}

    assert resolved["TrustGraph"].__module__ == "fluxtrust.graph"
    assert resolved["AwsFederatedRole"].__module__ == "fluxtrust.aws_trust"
    assert all(value is not None for value in resolved.values())


def test_unknown_name_is_an_attribute_error() -> None:
    """A misspelt import fails as Python's own would."""
    with pytest.raises(AttributeError, match="has no attribute 'TrustGrph'"):
        _ = fluxtrust.TrustGrph
