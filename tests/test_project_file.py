"""Pulumi.yaml declares the project as the README and the program expect it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG_SOURCE = (REPO / "components" / "config.py").read_text(encoding="utf-8")


def test_project_settings() -> None:
    """Project fluxtrust, Python in the .venv virtualenv, stack files under stacks/."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8"))

    assert project["name"] == "fluxtrust"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    assert project["stackConfigDir"] == "stacks"


def test_every_configuration_key_is_documented() -> None:
    """Each key the configuration reader accepts is described in Pulumi.yaml."""
    text = (REPO / "Pulumi.yaml").read_text(encoding="utf-8")
    keys = set(re.findall(r'"([a-z][A-Za-z]+)"', CONFIG_SOURCE))
    accepted = {
        key
        for key in keys
        if re.search(rf'(required|optional)=\([^)]*"{key}"', CONFIG_SOURCE, re.DOTALL)
        or re.search(rf'known = \([^)]*"{key}"', CONFIG_SOURCE)
    }

    assert {"accountId", "checkCluster", "previousIssuers", "serviceAccount"} <= accepted
    missing = sorted(key for key in accepted if key not in text)
    assert missing == []
