"""The offline preview of a configuration change: what `pulumi preview` would show, and what breaks.

`diff_plans` compares two offline plans of one stack. Resources are matched by (type token,
name), the pair Pulumi's URN is built from, so a resource whose name changes is a removal plus an
addition, exactly as the engine sees it. For each resource that stays, the changed inputs are
listed as key paths; an input holding JSON text (an IAM policy, a JWKS) is reported as changed text
and, when both sides parse, with the JSON paths that differ.

Each change is then judged with two tables:

- `REPLACE_RULES`: the inputs a provider cannot update in place, per type token. A change to one
  of them (or to a path the resource lists in its own `replaceOnChanges`) replaces the resource;
  the replacement deletes first when the resource says `deleteBeforeReplace`, or when the new
  object would carry the old one's name (the cloud cannot hold both).
- `TRUST_RULES` and `DROP_REASONS`: which resources a running cluster's access rests on, what each
  one grants (issuers, subjects, audiences, bindings, signing keys, annotations), and the reason
  text shown when a change deletes such a resource or takes a grant away. Adding trust never
  interrupts anything; taking it away does, for the tokens or workloads that relied on it.

`python -m fluxtrust diff` exits like `git diff --exit-code`: 0 when the two configurations declare
the same resources and outputs, 1 when anything differs, 2 on a configuration error.

Inputs only known at deploy time are the plan's deterministic placeholders, and secrets are the
same `[secret]` marker on both sides, so a change hidden inside a secret is not seen here.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from .cli import StackSource, find_stack
from .config import load_stack_file
from .errors import ConfigError, ConfigProblem
from .plan import Plan, PlannedResource, run_plan

__all__ = [
    "DROP_REASONS",
    "EXIT_CHANGES",
    "EXIT_NO_CHANGES",
    "REPLACE_RULES",
    "TRUST_RULES",
    "DiffError",
    "Grant",
    "PlanDiff",
    "ReplaceRule",
    "ResourceChange",
    "ResourceRef",
    "TrustRule",
    "diff_plans",
    "diff_stack",
    "load_at_revision",
]

# Like `git diff --exit-code`: a script can tell "nothing would change" from "review this".
EXIT_NO_CHANGES = 0
EXIT_CHANGES = 1

# The two documents an OIDC issuer publishes, under whichever bucket or container hosts it.
ISSUER_DOCUMENTS = (".well-known/openid-configuration", "openid/v1/jwks")


class DiffError(pulumi.RunError):
    """A diff that cannot be computed: a revision or file git cannot show, or a side that fails."""


# ------------------------------------------------------------------------------------------------
# Key paths


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-/:@$]+$")


def _join(prefix: str, key: str) -> str:
    """`prefix.key`, or `prefix["key"]` when the key has dots or brackets of its own."""
    if _PLAIN_KEY.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def _json_text(value: Any) -> Any:
    """The parsed document when `value` is JSON text holding an object or an array, else None."""
    if not isinstance(value, str) or value.lstrip()[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


@dataclass
class _Walk:
    """What differs between two values: (kind, path) pairs, and JSON paths inside JSON text."""

    changes: list[tuple[str, str]] = field(default_factory=list)
    json_paths: dict[str, list[str]] = field(default_factory=dict)

    def compare(self, old: Any, new: Any, path: str = "", *, in_json: bool = False) -> None:
        if old == new:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                child = _join(path, str(key))
                if key not in old:
                    self.changes.append(("added", child))
                elif key not in new:
                    self.changes.append(("removed", child))
                else:
                    self.compare(old[key], new[key], child, in_json=in_json)
            return
        # Lists in the plan are sorted by the program, so positions are meaningful; a list that
        # grows or shrinks is reported as a whole rather than as a cascade of shifted items.
        if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                self.compare(a, b, f"{path}[{index}]", in_json=in_json)
            return
        self.changes.append(("changed", path or "(value)"))
        if not in_json:
            before, after = _json_text(old), _json_text(new)
            if before is not None and after is not None:
                inner = _Walk()
                inner.compare(before, after, in_json=True)
                self.json_paths[path] = [p for _, p in inner.changes]

    @property
    def paths(self) -> list[str]:
        return [p for _, p in self.changes]


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _fill(template: str, values: Mapping[str, Any]) -> str:
    """`template` with each `{dotted.path}` replaced by that value ("?" when absent)."""

    def one(match: re.Match[str]) -> str:
        value = _lookup(values, match.group(1))
        return "?" if value is None else str(value)

    return re.sub(r"\{([A-Za-z0-9_.]+)\}", one, template)


# ------------------------------------------------------------------------------------------------
# Replacement


@dataclass(frozen=True)
class ReplaceRule:
    """How a provider applies changes to one resource type."""

    forces: tuple[str, ...]
    """Input paths a change to which replaces the resource instead of updating it."""
    names: tuple[str, ...] = ()
    """Input paths that name the object in the cloud (its identity beyond Pulumi)."""


# Which inputs force a replacement. The Python SDKs carry no such hints, so this table is from
# knowledge of the providers: ForceNew attributes of the Terraform providers that pulumi-aws and
# pulumi-gcp bridge; the path parameters of the Azure resource id (and, for tracked resources, the
# location, which Azure treats as create-only) in azure-native; the immutable identity fields of
# Kubernetes objects. pulumi-aws 7 gives most resources a `region` input, and moving a resource
# to another region is a new resource.
REPLACE_RULES: Mapping[str, ReplaceRule] = {
    # AWS IAM
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ReplaceRule(("url",), ("url",)),
    "aws:iam/role:Role": ReplaceRule(("name", "namePrefix", "path"), ("name",)),
    "aws:iam/rolePolicy:RolePolicy": ReplaceRule(("name", "namePrefix", "role"), ("role", "name")),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ReplaceRule(
        ("role", "policyArn"), ("role", "policyArn")
    ),
    # AWS S3 (issuer hosting)
    "aws:s3/bucket:Bucket": ReplaceRule(("bucket", "bucketPrefix", "region"), ("bucket",)),
    "aws:s3/bucketObjectv2:BucketObjectv2": ReplaceRule(
        ("bucket", "key", "region"), ("bucket", "key")
    ),
    "aws:s3/bucketPolicy:BucketPolicy": ReplaceRule(("bucket", "region"), ("bucket",)),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ReplaceRule(
        ("bucket", "region"), ("bucket",)
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ReplaceRule(
        ("bucket", "region"), ("bucket",)
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        ReplaceRule(("bucket", "expectedBucketOwner", "region"), ("bucket",))
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ReplaceRule(
        ("bucket", "expectedBucketOwner", "region"), ("bucket",)
    ),
    # Azure
    "azure-native:managedidentity:UserAssignedIdentity": ReplaceRule(
        ("resourceName", "resourceGroupName", "location"), ("resourceGroupName", "resourceName")
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": ReplaceRule(
        ("resourceName", "federatedIdentityCredentialResourceName", "resourceGroupName"),
        ("resourceGroupName", "resourceName", "federatedIdentityCredentialResourceName"),
    ),
    # Azure refuses to update a role assignment's principal, role or scope: a new one is needed.
    "azure-native:authorization:RoleAssignment": ReplaceRule(
        ("roleAssignmentName", "scope", "principalId", "roleDefinitionId"),
        ("scope", "roleAssignmentName"),
    ),
    "azure-native:storage:StorageAccount": ReplaceRule(
        ("accountName", "resourceGroupName", "location"), ("resourceGroupName", "accountName")
    ),
    "azure-native:storage:BlobContainer": ReplaceRule(
        ("accountName", "containerName", "resourceGroupName"),
        ("resourceGroupName", "accountName", "containerName"),
    ),
    # The blob resource uploads its content on create: new content is a new upload.
    "azure-native:storage:Blob": ReplaceRule(
        ("accountName", "containerName", "blobName", "resourceGroupName", "source", "type"),
        ("resourceGroupName", "accountName", "containerName", "blobName"),
    ),
    # GCP
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": ReplaceRule(
        ("workloadIdentityPoolId", "project"), ("project", "workloadIdentityPoolId")
    ),
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": ReplaceRule(
        ("workloadIdentityPoolId", "workloadIdentityPoolProviderId", "project"),
        ("project", "workloadIdentityPoolId", "workloadIdentityPoolProviderId"),
    ),
    "gcp:serviceaccount/account:Account": ReplaceRule(
        ("accountId", "project"), ("project", "accountId")
    ),
    "gcp:projects/iAMMember:IAMMember": ReplaceRule(
        ("role", "member", "project", "condition"), ("project", "role", "member")
    ),
    "gcp:serviceaccount/iAMMember:IAMMember": ReplaceRule(
        ("serviceAccountId", "role", "member", "condition"), ("serviceAccountId", "role", "member")
    ),
    "gcp:storage/bucket:Bucket": ReplaceRule(("name", "location", "project"), ("name",)),
    # GCS objects are immutable: new content or metadata headers are a new object.
    "gcp:storage/bucketObject:BucketObject": ReplaceRule(
        ("bucket", "name", "content", "source", "contentType", "cacheControl"), ("bucket", "name")
    ),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ReplaceRule(
        ("bucket", "role", "member", "condition"), ("bucket", "role", "member")
    ),
    # Kubernetes
    "kubernetes:core/v1:ServiceAccount": ReplaceRule(
        ("metadata.name", "metadata.namespace"), ("metadata.namespace", "metadata.name")
    ),
    "kubernetes:core/v1:ServiceAccountPatch": ReplaceRule(
        ("metadata.name", "metadata.namespace"), ("metadata.namespace", "metadata.name")
    ),
    # Pointing the provider at another cluster replaces every object it manages.
    "pulumi:providers:kubernetes": ReplaceRule(("cluster", "context")),
}


def _pattern(entry: str) -> re.Pattern[str]:
    """A `replaceOnChanges` path (`a.b`, `list[*].c`, `*`) as a regex over key paths."""
    if entry == "*":
        return re.compile(r".*")
    body = re.escape(entry).replace(r"\[\*\]", r"\[\d+\]").replace(r"\*", r"[^.\[]+")
    return re.compile(body + r"(?:[.\[].*)?")


def _forces(path: str, entry: str) -> bool:
    """Whether a change at `path` touches `entry`: the entry itself, beneath it, or above it."""
    if _pattern(entry).fullmatch(path):
        return True
    # A whole object appearing or vanishing (`metadata`) changes every entry beneath it.
    return entry.startswith((f"{path}.", f"{path}["))


# ------------------------------------------------------------------------------------------------
# Trust


@dataclass(frozen=True, order=True)
class Grant:
    """One thing a resource lets a token or a workload do: losing it can interrupt access."""

    kind: str
    """A key of `DROP_REASONS`."""
    value: str
    context: str = ""
    """The issuer a subject or audience is trusted from, or the input holding a JWKS."""


# Why losing each kind of grant interrupts access.
DROP_REASONS: Mapping[str, str] = {
    "issuer": "stops trusting issuer {value}: every token it issues is refused",
    "subject": "stops trusting subject {value} from {context}: its tokens are refused",
    "every-subject": (
        "narrows the trust of {context} to listed subjects: before, every subject was admitted"
    ),
    "audience": "stops accepting audience {value} from {context}: tokens requested for it fail",
    "binding": "revokes {value}",
    "key": "drops key {value} from the JWKS in {context}: tokens signed with it stop verifying",
    "published-issuer": (
        "the discovery document in {context} stops naming issuer {value}: verifiers refuse its "
        "tokens"
    ),
    "annotation": "removes annotation {value}: Flux no longer finds the identity it names",
}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _aws_trust_policy(inputs: Mapping[str, Any]) -> Iterator[Grant]:
    """Issuers, subjects and audiences a role's trust policy admits for web identities."""
    document = _json_text(inputs.get("assumeRolePolicy"))
    if not isinstance(document, dict):
        return
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "sts:AssumeRoleWithWebIdentity" not in _as_list(statement.get("Action")):
            continue
        principal = statement.get("Principal")
        federated = _as_list(principal.get("Federated")) if isinstance(principal, dict) else []
        conditions = statement.get("Condition")
        conditions = conditions if isinstance(conditions, dict) else {}
        for arn in federated:
            host = str(arn).partition(":oidc-provider/")[2] or str(arn)
            issuer = f"https://{host}"
            yield Grant("issuer", issuer)
            for operator in conditions.values():
                if not isinstance(operator, dict):
                    continue
                for key in _as_list(operator.get(f"{host}:sub")):
                    yield Grant("subject", str(key), issuer)
                for key in _as_list(operator.get(f"{host}:aud")):
                    yield Grant("audience", str(key), issuer)


def _aws_oidc_provider(inputs: Mapping[str, Any]) -> Iterator[Grant]:
    url = str(inputs.get("url", ""))
    yield Grant("issuer", url)
    for audience in _as_list(inputs.get("clientIdLists")):
        yield Grant("audience", str(audience), url)


def _azure_credential(inputs: Mapping[str, Any]) -> Iterator[Grant]:
    issuer = str(inputs.get("issuer", ""))
    yield Grant("issuer", issuer)
    yield Grant("subject", str(inputs.get("subject", "")), issuer)
    for audience in _as_list(inputs.get("audiences")):
        yield Grant("audience", str(audience), issuer)


_CEL_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def _gcp_provider(inputs: Mapping[str, Any]) -> Iterator[Grant]:
    """The issuer, audiences and subjects of a workload identity pool provider.

    The subjects are read as the string literals of the attribute condition, which is how
    conditions admitting ServiceAccounts are written (`assertion.sub in ['...', '...']`); no
    condition admits every subject.
    """
    issuer = str(_lookup(inputs, "oidc.issuerUri") or "")
    yield Grant("issuer", issuer)
    for audience in _as_list(_lookup(inputs, "oidc.allowedAudiences")):
        yield Grant("audience", str(audience), issuer)
    condition = inputs.get("attributeCondition")
    if not condition:
        yield Grant("every-subject", "*", issuer)
        return
    for single, double in _CEL_STRING.findall(str(condition)):
        yield Grant("subject", single or double, issuer)


def _binding(template: str) -> Callable[[Mapping[str, Any]], Iterator[Grant]]:
    def grants(inputs: Mapping[str, Any]) -> Iterator[Grant]:
        yield Grant("binding", _fill(template, inputs))

    return grants


def _annotations(inputs: Mapping[str, Any]) -> Iterator[Grant]:
    where = _fill("{metadata.namespace}/{metadata.name}", inputs)
    annotations = _lookup(inputs, "metadata.annotations")
    for key in sorted(annotations) if isinstance(annotations, Mapping) else []:
        yield Grant("annotation", f"{key} on {where}")


def _published_documents(inputs: Mapping[str, Any], path: str = "") -> Iterator[Grant]:
    """Keys of any JWKS and the issuer of any discovery document held as JSON text in inputs."""
    for key, value in sorted(inputs.items()):
        here = _join(path, str(key))
        if isinstance(value, Mapping):
            yield from _published_documents(value, here)
            continue
        document = _json_text(value)
        if not isinstance(document, dict):
            continue
        for jwk in _as_list(document.get("keys")):
            if isinstance(jwk, dict) and jwk.get("kid"):
                yield Grant("key", str(jwk["kid"]), here)
        if isinstance(document.get("issuer"), str) and "jwks_uri" in document:
            yield Grant("published-issuer", document["issuer"], here)


def _key_in(field_name: str, names: Iterable[str]) -> Callable[[Mapping[str, Any]], bool]:
    wanted = tuple(names)
    return lambda inputs: str(inputs.get(field_name, "")) in wanted


def _publishes_documents(inputs: Mapping[str, Any]) -> bool:
    policy = str(inputs.get("policy", ""))
    return any(document in policy for document in ISSUER_DOCUMENTS)


@dataclass(frozen=True)
class TrustRule:
    """Why a running cluster's access depends on one type of resource."""

    what: str
    """The resource, in words; `{input.path}` fields are filled from its inputs."""
    consequence: str
    """What stops working while it is missing."""
    grants: Callable[[Mapping[str, Any]], Iterable[Grant]] | None = None
    """What it grants; a change that loses a grant interrupts access."""
    referenced: str | None = None
    """What workloads hold of it, when they name the object itself (an ARN, a client id)."""
    applies: Callable[[Mapping[str, Any]], bool] | None = None
    """Limits the rule to some resources of the type (an S3 object that is an issuer document)."""


_ISSUER_DOCUMENT_GONE = (
    "verifiers can no longer fetch it, so the issuer's tokens are refused once cached copies expire"
)

TRUST_RULES: Mapping[str, TrustRule] = {
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": TrustRule(
        "the IAM OIDC provider for {url}",
        "AWS refuses every token of that issuer",
        grants=_aws_oidc_provider,
    ),
    "aws:iam/role:Role": TrustRule(
        "the IAM role {name}",
        "the ServiceAccounts annotated with its ARN can no longer assume it",
        grants=_aws_trust_policy,
        referenced="ARN (eks.amazonaws.com/role-arn, AWS_ROLE_ARN)",
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": TrustRule(
        "the attachment of {policyArn} to role {role}",
        "the role loses those permissions",
        grants=_binding("policy {policyArn} on role {role}"),
    ),
    "aws:iam/rolePolicy:RolePolicy": TrustRule(
        "the inline policy {name} of role {role}", "the role loses those permissions"
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": TrustRule(
        "the issuer document s3://{bucket}/{key}",
        _ISSUER_DOCUMENT_GONE,
        applies=_key_in("key", ISSUER_DOCUMENTS),
    ),
    "aws:s3/bucketPolicy:BucketPolicy": TrustRule(
        "the policy that lets anyone read the issuer documents in {bucket}",
        "verifiers can no longer fetch the discovery document and JWKS",
        applies=_publishes_documents,
    ),
    "azure-native:managedidentity:UserAssignedIdentity": TrustRule(
        "the managed identity {resourceName}",
        "Flux can no longer exchange tokens for it",
        referenced="client id (azure.workload.identity/client-id, AZURE_CLIENT_ID)",
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": TrustRule(
        "the federated credential {federatedIdentityCredentialResourceName} ({subject} from "
        "{issuer})",
        "Azure refuses that subject's tokens from that issuer",
        grants=_azure_credential,
    ),
    "azure-native:authorization:RoleAssignment": TrustRule(
        "the role assignment {roleAssignmentName} on {scope}",
        "the identity loses that role",
        grants=_binding("role {roleDefinitionId} for {principalId} on {scope}"),
    ),
    "azure-native:storage:Blob": TrustRule(
        "the issuer document {accountName}/{containerName}/{blobName}",
        _ISSUER_DOCUMENT_GONE,
        applies=_key_in("blobName", ISSUER_DOCUMENTS),
    ),
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": TrustRule(
        "the workload identity pool {workloadIdentityPoolId}",
        "GCP refuses the tokens of all its providers, and the id stays reserved for 30 days",
        referenced="name (in the provider name Flux is given)",
    ),
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": TrustRule(
        "the workload identity provider {workloadIdentityPoolProviderId} for {oidc.issuerUri}",
        "GCP refuses that issuer's tokens, and the id stays reserved for 30 days",
        grants=_gcp_provider,
        referenced="name (gcp.auth.fluxcd.io/workload-identity-provider, credential audience)",
    ),
    "gcp:serviceaccount/account:Account": TrustRule(
        "the service account {accountId}",
        "workloads that impersonate it lose access",
        referenced="email (iam.gke.io/gcp-service-account, impersonation URL)",
    ),
    "gcp:projects/iAMMember:IAMMember": TrustRule(
        "the grant of {role} to {member}",
        "that principal loses the role in project {project}",
        grants=_binding("{role} for {member} in project {project}"),
    ),
    "gcp:serviceaccount/iAMMember:IAMMember": TrustRule(
        "the grant of {role} to {member} on {serviceAccountId}",
        "that principal loses the role on the service account",
        grants=_binding("{role} for {member} on {serviceAccountId}"),
    ),
    "gcp:storage/bucketObject:BucketObject": TrustRule(
        "the issuer document gs://{bucket}/{name}",
        _ISSUER_DOCUMENT_GONE,
        applies=_key_in("name", ISSUER_DOCUMENTS),
    ),
    "gcp:storage/bucketIAMMember:BucketIAMMember": TrustRule(
        "public read of the issuer documents in {bucket}",
        "verifiers can no longer fetch the discovery document and JWKS",
        grants=_binding("{role} for {member} on bucket {bucket}"),
        applies=_key_in("member", ("allUsers",)),
    ),
    "kubernetes:core/v1:ServiceAccount": TrustRule(
        "the ServiceAccount {metadata.namespace}/{metadata.name}",
        "Flux loses the identity annotations on it, and objects naming it fail",
        grants=_annotations,
    ),
    "kubernetes:core/v1:ServiceAccountPatch": TrustRule(
        "the annotations set on ServiceAccount {metadata.namespace}/{metadata.name}",
        "Flux no longer finds the cloud identities they name",
        grants=_annotations,
    ),
}


def _rule_for(resource: PlannedResource) -> TrustRule | None:
    rule = TRUST_RULES.get(resource.type)
    if rule is None or (rule.applies is not None and not rule.applies(resource.inputs)):
        return None
    return rule


def _grants(resource: PlannedResource) -> set[Grant]:
    found = set(_published_documents(resource.inputs))
    rule = TRUST_RULES.get(resource.type)
    if rule is not None and rule.grants is not None:
        found.update(rule.grants(resource.inputs))
    return found


def _dropped(old: PlannedResource, new: PlannedResource) -> list[str]:
    """Reasons for each grant the old declaration gave and the new one does not."""
    lost = _grants(old) - _grants(new)
    lost_issuers = {g.value for g in lost if g.kind == "issuer"}
    reasons = []
    for grant in sorted(lost):
        # Losing an issuer already says that its subjects and audiences are gone.
        if grant.kind in ("subject", "audience", "every-subject") and grant.context in lost_issuers:
            continue
        values = {"value": grant.value, "context": grant.context or "?"}
        reasons.append(_fill(DROP_REASONS[grant.kind], values))
    return reasons


def _removal_reason(resource: PlannedResource) -> str | None:
    rule = _rule_for(resource)
    if rule is None:
        return None
    return f"deletes {_fill(rule.what, resource.inputs)}: {rule.consequence}"


# ------------------------------------------------------------------------------------------------
# The diff


@dataclass(frozen=True)
class ResourceChange:
    """One resource declared on both sides whose inputs differ."""

    type: str
    name: str
    keys: tuple[str, ...]
    """Changed input paths (dotted; `a["b.c"]` for keys with dots; `[i]` for list items)."""
    json_paths: Mapping[str, tuple[str, ...]]
    """For inputs holding JSON text on both sides: the JSON paths that differ."""
    replace: bool
    replace_keys: tuple[str, ...]
    """The changed paths that force the replacement."""
    delete_before_replace: bool
    delete_first_because: str | None
    """Why the replacement deletes first: the resource's option, or a name the new one reuses."""
    interrupts: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The change as `diff --json` shows it."""
        doc: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "keys": list(self.keys),
            "replace": self.replace,
            "deleteBeforeReplace": self.delete_before_replace,
            "interrupts": list(self.interrupts),
        }
        if self.json_paths:
            doc["jsonPaths"] = {k: list(v) for k, v in self.json_paths.items()}
        if self.replace:
            doc["replaceKeys"] = list(self.replace_keys)
        return doc


@dataclass(frozen=True)
class ResourceRef:
    """A resource declared on one side only."""

    type: str
    name: str
    interrupts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The resource as `diff --json` lists it."""
        return {"type": self.type, "name": self.name, "interrupts": list(self.interrupts)}


@dataclass(frozen=True)
class PlanDiff:
    """Everything that differs between two plans of one stack."""

    before: str
    after: str
    added: tuple[ResourceRef, ...]
    removed: tuple[ResourceRef, ...]
    changed: tuple[ResourceChange, ...]
    outputs: tuple[tuple[str, str], ...]
    """(`added` | `removed` | `changed`, output path) for each output that differs."""

    @property
    def has_changes(self) -> bool:
        """Whether anything at all differs: a resource or an output."""
        return bool(self.added or self.removed or self.changed or self.outputs)

    @property
    def exit_status(self) -> int:
        """0 when nothing differs, 1 otherwise (as `git diff --exit-code`)."""
        return EXIT_CHANGES if self.has_changes else EXIT_NO_CHANGES

    @property
    def interruptions(self) -> int:
        """How many removed or changed resources can interrupt access."""
        removed = sum(1 for r in self.removed if r.interrupts)
        return removed + sum(1 for c in self.changed if c.interrupts)

    def summary(self) -> dict[str, int]:
        """The counts shown at the end of the report."""
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "replaced": sum(1 for c in self.changed if c.replace),
            "interrupting": self.interruptions,
            "outputsChanged": len(self.outputs),
        }

    def to_json(self) -> dict[str, Any]:
        """The diff as one JSON object."""
        return {
            "before": self.before,
            "after": self.after,
            "added": [r.to_json() for r in self.added],
            "removed": [r.to_json() for r in self.removed],
            "changed": [c.to_json() for c in self.changed],
            "outputs": [{"path": path, "change": kind} for kind, path in self.outputs],
            "summary": self.summary(),
        }

    def dumps(self) -> str:
        """Canonical JSON text of the diff."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def render(self) -> str:
        """A report for review: added, removed, changed, outputs, then the counts."""
        lines = [f"fluxtrust diff {self.before} -> {self.after}", ""]
        if not self.has_changes:
            lines += ["No changes: both configurations declare the same resources and outputs.", ""]
        if self.added:
            lines.append(f"Added ({len(self.added)})")
            lines += [f"  + {r.type}  {r.name}" for r in self.added]
            lines.append("")
        if self.removed:
            lines.append(f"Removed ({len(self.removed)})")
            for r in self.removed:
                lines.append(f"  - {r.type}  {r.name}")
                lines += [f"      ! interrupts access: {reason}" for reason in r.interrupts]
            lines.append("")
        if self.changed:
            lines.append(f"Changed ({len(self.changed)})")
            for c in self.changed:
                lines += _render_change(c)
            lines.append("")
        if self.outputs:
            lines.append(f"Outputs changed ({len(self.outputs)})")
            marks = {"added": "+", "removed": "-", "changed": "~"}
            lines += [f"  {marks[kind]} {path}" for kind, path in self.outputs]
            lines.append("")
        counts = self.summary()
        lines.append(
            f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed "
            f"({counts['replaced']} replaced), {counts['interrupting']} interrupting access, "
            f"{counts['outputsChanged']} outputs changed"
        )
        return "\n".join(lines) + "\n"


def _render_change(change: ResourceChange) -> list[str]:
    # Pulumi's own marks: `~` an update in place, `+-` a replacement.
    mark = "+-" if change.replace else "~"
    lines = [f"  {mark} {change.type}  {change.name}"]
    described = []
    for key in change.keys:
        if key in change.json_paths:
            inner = change.json_paths[key]
            detail = ", ".join(inner) if inner else "same JSON, other formatting"
            described.append(f"{key} (JSON text changed: {detail})")
        else:
            described.append(key)
    lines.append(f"      changed: {'; '.join(described)}")
    if change.replace:
        order = (
            f"delete-before-replace, {change.delete_first_because}"
            if change.delete_before_replace
            else "create-before-delete"
        )
        lines.append(f"      replace ({order}) because of: {', '.join(change.replace_keys)}")
    lines += [f"      ! interrupts access: {reason}" for reason in change.interrupts]
    return lines


def _names_unchanged(rule: ReplaceRule | None, old: PlannedResource, new: PlannedResource) -> bool:
    if rule is None or not rule.names:
        return False
    return all(_lookup(old.inputs, n) == _lookup(new.inputs, n) for n in rule.names)


def _compare(old: PlannedResource, new: PlannedResource) -> ResourceChange | None:
    walk = _Walk()
    walk.compare(old.inputs, new.inputs)
    keys = walk.paths
    if old.urn != new.urn:
        # Same type and name under another parent type: a new URN, so the engine creates the
        # new resource and deletes the old one unless an alias ties them.
        keys.append("(urn)")
    if not keys:
        return None
    replace_rule = REPLACE_RULES.get(new.type)
    entries = (*(replace_rule.forces if replace_rule else ()), *new.replace_on_changes)
    replace_keys = tuple(k for k in keys if k == "(urn)" or any(_forces(k, e) for e in entries))
    replace = bool(replace_keys)
    because: str | None = None
    if replace and new.delete_before_replace:
        because = "the resource's deleteBeforeReplace option"
    elif replace and _names_unchanged(replace_rule, old, new) and not old.retain_on_delete:
        # The new object would take the old one's name, which the cloud holds only once: the
        # providers (the bridged aws and gcp ones, kubernetes) delete the old one first. A
        # resource retained on delete is overwritten in place instead, and never deleted.
        because = "the new object keeps the old one's name"
    interrupts = _dropped(old, new)
    trust = _rule_for(old)
    if trust is not None and because is not None:
        interrupts.insert(
            0,
            f"deletes {_fill(trust.what, old.inputs)} before creating its replacement "
            f"({because}): in between, {trust.consequence}",
        )
    elif (
        trust is not None
        and replace
        and trust.referenced
        and not _names_unchanged(replace_rule, old, new)
    ):
        interrupts.insert(
            0,
            f"replaces {_fill(trust.what, old.inputs)} with a new object: workloads still holding "
            f"the old {trust.referenced} lose access when it is deleted",
        )
    return ResourceChange(
        type=new.type,
        name=new.name,
        keys=tuple(keys),
        json_paths={k: tuple(v) for k, v in walk.json_paths.items()},
        replace=replace,
        replace_keys=replace_keys,
        delete_before_replace=because is not None,
        delete_first_because=because,
        interrupts=tuple(interrupts),
    )


def diff_plans(
    before: Plan, after: Plan, *, before_label: str = "", after_label: str = ""
) -> PlanDiff:
    """Compares two plans of one stack, resource by resource (matched by type and name).

    Args:
        before: the plan of the configuration in effect (what `pulumi up` last applied).
        after: the plan of the configuration to apply.
        before_label: how the report names the first side (a file, `file@rev`).
        after_label: how the report names the second side.
    """
    old = {(r.type, r.name): r for r in before.resources}
    new = {(r.type, r.name): r for r in after.resources}
    added = tuple(ResourceRef(*key) for key in sorted(new.keys() - old.keys()))
    removed = tuple(
        ResourceRef(*key, interrupts=tuple(filter(None, [_removal_reason(old[key])])))
        for key in sorted(old.keys() - new.keys())
    )
    changed = tuple(
        change
        for key in sorted(old.keys() & new.keys())
        if (change := _compare(old[key], new[key])) is not None
    )
    outputs = _Walk()
    outputs.compare(before.outputs, after.outputs)
    return PlanDiff(
        before=before_label or f"stack {before.stack}",
        after=after_label or f"stack {after.stack}",
        added=added,
        removed=removed,
        changed=changed,
        outputs=tuple(outputs.changes),
    )


# ------------------------------------------------------------------------------------------------
# The two sides of `python -m fluxtrust diff`


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=False,
        )
    except FileNotFoundError:
        msg = "git is not installed, so --rev cannot read an earlier revision"
        raise DiffError(msg) from None
    if done.returncode != 0:
        msg = f"git {' '.join(args)} failed: {done.stderr.strip() or done.returncode}"
        raise DiffError(msg)
    return done.stdout


def load_at_revision(config_file: Path, rev: str) -> tuple[dict[str, object], str]:
    """Reads a stack file as committed at a git revision; returns its values and `path@rev`.

    Raises:
        DiffError: the file is not in a git work tree, or git cannot show it at `rev`.
        ConfigError: the committed file is not a stack file.
    """
    if not rev or rev.startswith("-"):
        # `git show` would read a leading dash as one of its own options.
        msg = f"--rev {rev!r} is not a revision; give a commit, branch or tag such as HEAD~1"
        raise DiffError(msg)
    config_file = config_file.resolve()
    top = Path(_git(["rev-parse", "--show-toplevel"], config_file.parent).strip()).resolve()
    relative = config_file.relative_to(top).as_posix()
    label = f"{relative}@{rev}"
    text = _git(["show", f"{rev}:{relative}"], top)
    with tempfile.TemporaryDirectory(prefix="fluxtrust-diff-") as scratch:
        copy = Path(scratch) / config_file.name
        copy.write_text(text, encoding="utf-8")
        try:
            return load_stack_file(copy), label
        except ConfigError as err:
            raise ConfigError(
                [ConfigProblem(p.path.replace(str(copy), label), p.message) for p in err.problems]
            ) from None


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _plan(side: str, raw: Mapping[str, Any], source: StackSource, project_dir: Path) -> Plan:
    try:
        return run_plan(raw, stack=source.name, project_dir=project_dir)
    except ConfigError:
        raise
    except pulumi.RunError as err:
        msg = f"the {side} configuration cannot be planned: {err}"
        raise DiffError(msg) from None


def diff_stack(
    after: StackSource, *, against: str | None = None, rev: str | None = None
) -> PlanDiff:
    """Plans a stack's configuration and an earlier one offline, and compares them.

    Both sides are planned as the same stack (`after.name`), since the question is what applying
    the current file to that stack would change.

    Args:
        after: the stack whose current configuration file is the new side.
        against: another configuration file to compare with; its relative paths resolve in its
            own project when it sits in one, else in the stack's.
        rev: a git revision: the same stack file as committed there. Key and JWKS files it names
            are read from the working tree, on both sides.

    Raises:
        ConfigError: either configuration is invalid.
        DiffError: git cannot show the file at `rev`, or a side fails to plan.
    """
    if (against is None) == (rev is None):
        msg = "give exactly one of against (a file) or rev (a git revision)"
        raise ValueError(msg)
    after_raw = load_stack_file(after.config_file)
    project_dir = after.project_dir
    if against is not None:
        other = find_stack(after.name, against)
        before_raw = load_stack_file(other.config_file)
        before_label = _display(other.config_file)
        if (other.project_dir / "Pulumi.yaml").is_file():
            project_dir = other.project_dir
    else:
        assert rev is not None
        before_raw, before_label = load_at_revision(after.config_file, rev)
    before_plan = _plan("earlier", before_raw, after, project_dir)
    after_plan = _plan("current", after_raw, after, after.project_dir)
    return diff_plans(
        before_plan,
        after_plan,
        before_label=before_label,
        after_label=_display(after.config_file),
    )
