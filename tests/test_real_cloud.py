"""Opt-in checks against real accounts: `pulumi preview` of the default stack with the CLI.

Skipped unless FLUXTRUST_CLOUD_TESTS=1 is set, the Pulumi CLI is on PATH, and the shell holds
credentials for AWS, Azure and GCP (the previews call the clouds' APIs, but create nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fluxtrust.config import load_stack_file
from fluxtrust.plan import run_plan

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.cloud,
    pytest.mark.skipif(
        os.environ.get("FLUXTRUST_CLOUD_TESTS") != "1",
        reason="real-cloud test: set FLUXTRUST_CLOUD_TESTS=1, with cloud credentials, to run it",
    ),
    pytest.mark.skipif(shutil.which("pulumi") is None, reason="the Pulumi CLI is not installed"),
]


def test_preview_declares_what_the_offline_plan_shows(tmp_path: Path) -> None:
    """A real `pulumi preview` creates exactly the resources the offline plan lists."""
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{tmp_path}",
        "PULUMI_CONFIG_PASSPHRASE": "",
    }
    subprocess.run(["pulumi", "stack", "init", "dev"], cwd=REPO, env=env, check=True)

    result = subprocess.run(
        ["pulumi", "preview", "--stack", "dev", "--json", "--non-interactive"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )

    previewed = {
        (step["newState"]["type"], step["urn"].rsplit("::", 1)[1])
        for step in json.loads(result.stdout)["steps"]
        if step.get("op") == "create" and not step["newState"]["type"].startswith("pulumi:")
    }
    offline = run_plan(
        load_stack_file(REPO / "stacks" / "Pulumi.dev.yaml"), stack="dev", project_dir=REPO
    )
    assert previewed == {
        (r.type, r.name) for r in offline.resources if not r.type.startswith("pulumi:")
    }
