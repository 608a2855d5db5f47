"""The offline plan: the real program run under Pulumi's mock engine, recorded resource by resource.

No Pulumi CLI, backend or credentials are involved. The program reads its configuration through
`pulumi.Config` exactly as under `pulumi up`; the mock monitor records every resource the program
registers (type token, name, parent, inputs in Pulumi's wire names, and the options that decide
how a change is applied) and answers with the deterministic placeholders of `placeholders`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from . import placeholders
from .config import CONFIG_NAMESPACE

__all__ = ["SECRET_PLACEHOLDER", "Plan", "PlannedResource", "run_plan"]

PROJECT = "fluxtrust"
SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class PlannedResource:
    """One resource the program declared, as the engine received it."""

    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    urn: str
    # Options that decide how a change to this resource is applied.
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    replace_on_changes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The resource as the plan's JSON shows it."""
        doc: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
        }
        if not self.custom:
            doc["component"] = True
        if self.delete_before_replace:
            doc["deleteBeforeReplace"] = True
        if self.retain_on_delete:
            doc["retainOnDelete"] = True
        if self.replace_on_changes:
            doc["replaceOnChanges"] = list(self.replace_on_changes)
        if self.depends_on:
            doc["dependsOn"] = list(self.depends_on)
        return doc


@dataclass
class Plan:
    """Everything one run of the program declared, plus its stack outputs."""

    stack: str
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The plan as one JSON object: `{"stack", "resources", "outputs"}`."""
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }

    def dumps(self) -> str:
        """Canonical JSON text: the same configuration always gives the same bytes."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def of_type(self, type_token: str) -> list[PlannedResource]:
        """The resources of one type, in plan order."""
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str, type_token: str | None = None) -> PlannedResource:
        """The resource with the given name (and type, when names repeat across types)."""
        found = [r for r in self.resources if r.name == name and type_token in (None, r.type)]
        if len(found) != 1:
            msg = f"expected one resource named {name!r}, found {len(found)}"
            raise KeyError(msg)
        return found[0]


def _redact(value: Any) -> Any:
    """Replaces every secret with a marker, so that the plan can be printed and shared."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET_PLACEHOLDER
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Converts what the mock engine deserialized into plain JSON values."""
    value = _redact(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        text = getattr(value, "text", None)
        return {"asset": text if text is not None else str(getattr(value, "path", value))}
    return str(value)


class _PlanMocks(pulumi_mocks.Mocks):
    def __init__(self, context: placeholders.PlaceholderContext) -> None:
        self.context = context

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return placeholders.resource_outputs(args.typ, args.name, args.inputs, self.context)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return placeholders.invoke_result(args.token, args.args, self.context), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping what each registration said about parent and options."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[PlannedResource] = []
        self._names: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        # The mock monitor is untyped: it implements the gRPC servicer by duck typing.
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        urn = self.make_urn(request.parent, request.type, request.name)
        self._names[urn] = request.name
        inputs = rpc.deserialize_properties(request.object)
        self.registrations.append(
            PlannedResource(
                type=request.type,
                name=request.name,
                parent=self._names.get(request.parent),
                custom=bool(request.custom),
                inputs=_plain(inputs),
                urn=urn,
                delete_before_replace=bool(request.deleteBeforeReplace),
                retain_on_delete=bool(request.retainOnDelete),
                replace_on_changes=tuple(sorted(request.replaceOnChanges)),
                depends_on=tuple(sorted(self._names.get(d, d) for d in request.dependencies)),
            )
        )
        return response


def _context_for(raw_config: Mapping[str, Any], stack: str) -> placeholders.PlaceholderContext:
    def setting(block: str, key: str) -> str | None:
        value = raw_config.get(block)
        if isinstance(value, Mapping) and value.get(key) is not None:
            return str(value[key])
        return None

    extra = {}
    if (location := setting("azure", "location")) is not None:
        extra["azure_location"] = location
    return placeholders.PlaceholderContext(
        stack=stack,
        aws_account_id=setting("aws", "accountId"),
        aws_region=setting("aws", "region"),
        azure_subscription_id=setting("azure", "subscriptionId"),
        azure_tenant_id=setting("azure", "tenantId"),
        gcp_project=setting("gcp", "project"),
        gcp_project_number=setting("gcp", "projectNumber"),
        extra=extra,
    )


def _drop_reported_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Keeps asyncio from printing, once per derived output, an error the plan already raised.

    A guard raising inside an `apply` (a policy over IAM's limit) fails every output derived
    from it; `run_plan` raises that error once, and the copies left in unawaited futures would
    otherwise each be printed when they are collected.
    """
    if isinstance(context.get("exception"), pulumi.RunError):
        return
    loop.default_exception_handler(context)


def _settle_pending_outputs() -> None:
    """Marks every output task of the run as seen, and forgets them.

    When one guard raises inside an `apply`, the outputs derived from it fail too; their
    exceptions are the same error, already reported once. Retrieving them keeps asyncio from
    printing each again as "exception was never retrieved", and clearing the set keeps the next
    plan in this process (tests, `diff`) from awaiting them.
    """
    for task in list(settings.SETTINGS.outputs):
        if task.done() and not task.cancelled():
            task.exception()
        elif not task.done():
            task.cancel()
    settings.SETTINGS.outputs.clear()


def run_plan(
    raw_config: Mapping[str, Any],
    *,
    stack: str,
    program: Callable[[], None] | None = None,
    project_dir: Path | None = None,
) -> Plan:
    """Runs the program offline on a configuration and returns what it declared.

    Args:
        raw_config: the `fluxtrust:*` values keyed without namespace (as `load_stack_file` gives).
        stack: the stack name the program sees.
        program: the program to run; by default fluxtrust's own (`fluxtrust.program.main`).
        project_dir: the directory relative paths in the configuration are resolved against
            (the directory of `Pulumi.yaml`); by default the current directory.

    Raises:
        pulumi.RunError: a configuration or input problem, raised before anything is declared.
    """
    if program is None:
        from .program import main as fluxtrust_program

        program = fluxtrust_program
    declare = program
    context = _context_for(raw_config, stack)
    monitor = _RecordingMonitor(_PlanMocks(context))
    # A fresh root stack per run: the runtime keeps the root resource in a context variable,
    # and a second plan in the same process (tests, `diff`) must not export onto the first.
    settings.ROOT.set(None)
    # The runtime also keeps every pending output task across runs; a task that failed in an
    # earlier plan (a limit guard raising inside an apply) would otherwise fail this one too.
    settings.SETTINGS.outputs.clear()
    pulumi_mocks.set_mocks(
        monitor.mocks,
        project=PROJECT,
        stack=stack,
        preview=False,
        monitor=monitor,
        logger=logging.getLogger("fluxtrust.plan"),
    )
    set_all_config(
        {f"{CONFIG_NAMESPACE}:{key}": json.dumps(value) for key, value in raw_config.items()}
    )
    directory = str(project_dir) if project_dir is not None else None

    def run() -> None:
        from .program import PROJECT_DIR_OVERRIDE

        token = PROJECT_DIR_OVERRIDE.set(directory)
        try:
            declare()
        finally:
            PROJECT_DIR_OVERRIDE.reset(token)

    # The loop `_sync_await` runs the program on (the SDK's helper is untyped).
    loop: asyncio.AbstractEventLoop = _ensure_event_loop()  # type: ignore[no-untyped-call]
    loop.set_exception_handler(_drop_reported_errors)
    try:
        _sync_await(run_pulumi_func(run))
    finally:
        _settle_pending_outputs()
    plan = Plan(stack=stack)
    plan.resources = sorted(monitor.registrations, key=lambda r: (r.urn, r.name))
    root = settings.get_root_resource()
    exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    for key in sorted(exported):
        output = pulumi.Output.from_input(exported[key])
        value = _sync_await(output.future())
        secret = _sync_await(output.is_secret())
        plan.outputs[key] = SECRET_PLACEHOLDER if secret else _plain(value)
    return plan
