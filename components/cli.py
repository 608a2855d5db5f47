"""`python -m fluxtrust`: the offline plan, and the commands built on it.

Commands print their result on standard output. A configuration or input problem prints its
message on standard error and exits with status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from .config import load_stack_file
from .errors import ConfigError, ConfigProblem
from .plan import Plan, run_plan
from .render import render_dot, render_mermaid, render_table

__all__ = ["StackSource", "find_stack", "main"]

DEFAULT_STACK = "dev"
EXIT_CONFIG = 2


@dataclass(frozen=True)
class StackSource:
    """Where a stack's configuration comes from, and the project directory it belongs to."""

    name: str
    config_file: Path
    project_dir: Path


def _find_project_dir(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    return None


def find_stack(stack: str | None, config_file: str | None) -> StackSource:
    """Resolves `--stack NAME` (read from `stacks/Pulumi.NAME.yaml`) or `--config FILE`.

    Raises:
        ConfigError: the stack file does not exist.
    """
    if config_file is not None:
        path = Path(config_file).resolve()
        project = _find_project_dir(path.parent) or path.parent
        name = stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        return StackSource(name, path, project)
    name = stack or DEFAULT_STACK
    project = _find_project_dir(Path.cwd()) or Path.cwd()
    path = project / "stacks" / f"Pulumi.{name}.yaml"
    if not path.is_file():
        available = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml")
            for p in (project / "stacks").glob("Pulumi.*.yaml")
        )
        hint = f"stacks here: {', '.join(available)}" if available else "no stacks/ directory here"
        raise ConfigError([ConfigProblem(f"--stack {name}", f"{path} does not exist; {hint}")])
    return StackSource(name, path, project)


def plan_stack(source: StackSource) -> Plan:
    """Runs the program offline on one stack's configuration."""
    raw = load_stack_file(source.config_file)
    return run_plan(raw, stack=source.name, project_dir=source.project_dir)


def _add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--stack", help=f"stack name, read from stacks/Pulumi.<NAME>.yaml (default {DEFAULT_STACK})"
    )
    group.add_argument("--config", help="a stack configuration file to read instead")


def _write_patches(plan: Plan, directory: Path) -> list[Path]:
    """Writes each cluster's Flux kustomization patches under `directory/<cluster>/`."""
    written: list[Path] = []
    patches = plan.outputs.get("fluxPatches", {})
    if not isinstance(patches, dict):
        return written
    for cluster, files in sorted(patches.items()):
        for filename, text in sorted(files.items()):
            target = directory / cluster / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def _cmd_plan(args: argparse.Namespace) -> int:
    plan = plan_stack(find_stack(args.stack, args.config))
    fmt = "json" if args.json else args.format
    if fmt == "json":
        sys.stdout.write(plan.dumps())
    elif fmt == "mermaid":
        sys.stdout.write(render_mermaid(plan))
    elif fmt == "dot":
        sys.stdout.write(render_dot(plan))
    else:
        sys.stdout.write(render_table(plan))
    if args.write_patches:
        for path in _write_patches(plan, Path(args.write_patches)):
            sys.stderr.write(f"wrote {path}\n")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import FetchOptions, verify_stack_file

    source = find_stack(args.stack, args.config)
    report = verify_stack_file(
        source.config_file,
        stack_name=source.name,
        project_dir=source.project_dir,
        clusters=args.cluster or (),
        outputs_file=Path(args.outputs) if args.outputs else None,
        options=FetchOptions(timeout=args.timeout, ca_bundle=args.ca_bundle),
    )
    sys.stdout.write(report.dumps() if args.json else report.render_text())
    return report.exit_status


def _cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_stack

    result = diff_stack(find_stack(args.stack, args.config), against=args.against, rev=args.rev)
    sys.stdout.write(result.dumps() if args.json else result.render())
    return result.exit_status


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (exposed for the tests and for `--help`)."""
    parser = argparse.ArgumentParser(
        prog="python -m fluxtrust",
        description="Declare and review the secret-less trust between Flux clusters and clouds.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        help="render what a stack declares, offline (no Pulumi CLI, backend or credentials)",
    )
    _add_stack_arguments(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    plan.add_argument(
        "--format",
        choices=("table", "json", "mermaid", "dot"),
        default="table",
        help="table (default), json, or a picture of the trust graph: mermaid or dot",
    )
    plan.add_argument(
        "--write-patches",
        metavar="DIR",
        help="also write each cluster's Flux kustomization patches under DIR/<cluster>/",
    )
    plan.set_defaults(handler=_cmd_plan)
    verify = commands.add_parser(
        "verify",
        help="check, anonymously, that every trusted issuer is published correctly and that "
        "the published keys match the declared and live ones; exit 1 if a check fails",
    )
    _add_stack_arguments(verify)
    verify.add_argument(
        "--cluster", action="append", metavar="NAME", help="only this cluster (repeatable)"
    )
    verify.add_argument("--json", action="store_true", help="print the report as one JSON object")
    verify.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="wait this long for each document (default 5: AWS STS gives up after about 5 s)",
    )
    verify.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="trust the CA certificates in this PEM file instead of the system store "
        "(e.g. a TLS-inspecting proxy's CA)",
    )
    verify.add_argument(
        "--outputs",
        metavar="FILE",
        help="the deployed stack's outputs (pulumi stack output --json), for EKS and AKS "
        "issuers that are looked up at deploy time",
    )
    verify.set_defaults(handler=_cmd_verify)
    diff = commands.add_parser(
        "diff",
        help="preview, offline, what changes between an earlier configuration and the current "
        "one, flagging replacements and changes that can interrupt access",
        description="Plans both configurations offline and lists the resources added, removed "
        "or changed (with the changed input keys), replacements, and changes that can interrupt "
        "access. Exit status: 0 no changes, 1 changes, 2 configuration error.",
    )
    _add_stack_arguments(diff)
    before = diff.add_mutually_exclusive_group(required=True)
    before.add_argument("--against", metavar="FILE", help="the earlier configuration file")
    before.add_argument(
        "--rev", metavar="GITREV", help="the same stack file as committed at this git revision"
    )
    diff.add_argument("--json", action="store_true", help="print the diff as one JSON object")
    diff.set_defaults(handler=_cmd_diff)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except pulumi.RunError as err:
        sys.stderr.write(f"error: {err}\n")
        return EXIT_CONFIG
    return status
