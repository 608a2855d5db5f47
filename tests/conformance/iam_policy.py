"""AWS IAM policy evaluation, as IAM documents it, for trust policies and bucket policies.

Only what the suite needs is supported, and anything else fails closed: an unknown policy element
or condition operator, `NotPrincipal`/`NotAction`/`NotResource`, or a policy variable makes the
whole evaluation raise `PolicyError`, which callers turn into a refusal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = ["ANONYMOUS", "Decision", "PolicyError", "PolicyRequest", "evaluate_policy"]

Decision: TypeAlias = Literal["allow", "explicit-deny", "implicit-deny"]

# The principal of an unsigned request (anyone on the internet).
ANONYMOUS = ("anonymous", "*")

_POLICY_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
_STRING_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "Bool",
    "Null",
}
# For these, a key missing from the request makes the condition true (IAM: "the values do not
# match, and the operator requires that they do not").
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"}


class PolicyError(Exception):
    """The policy uses something this evaluator does not model; callers must refuse."""


@dataclass(frozen=True)
class PolicyRequest:
    """The request IAM evaluates: who, doing what, on what, with which context keys."""

    action: str
    # (principal type, value): ("Federated", provider ARN), ("AWS", ARN) or ANONYMOUS.
    principal: tuple[str, str]
    # None for a role trust policy, whose statements must not name resources.
    resource: str | None = None
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _as_list(value: object, what: str) -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, str | bool | int | float):
        return [value]
    msg = f"{what} must be a string or a list, not {type(value).__name__}"
    raise PolicyError(msg)


def _as_strings(value: object, what: str) -> list[str]:
    strings = []
    for item in _as_list(value, what):
        if isinstance(item, bool):
            strings.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            strings.append(str(item))
        else:
            msg = f"{what} holds a {type(item).__name__}"
            raise PolicyError(msg)
    return strings


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run of characters, empty included) and `?` (one character)."""
    if "${" in pattern:
        msg = f"policy variables are not modelled: {pattern!r}"
        raise PolicyError(msg)
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _principal_matches(principal: object, request: PolicyRequest) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        msg = f"Principal must be '*' or an object, not {principal!r}"
        raise PolicyError(msg)
    kind, value = request.principal
    for principal_type, listed in principal.items():
        names = _as_strings(listed, f"Principal.{principal_type}")
        if principal_type == "AWS" and "*" in names:
            return True
        # Federated and service principals are compared whole: IAM allows no wildcard in them.
        if principal_type == kind and value in names:
            return True
    return False


def _key_values(context: Mapping[str, Sequence[str]], key: str) -> list[str] | None:
    # Condition key names are case-insensitive; their values are not.
    for name, values in context.items():
        if name.lower() == key.lower():
            return list(values)
    return None


def _value_matches(operator: str, actual: str, expected: str) -> bool:
    if "${" in expected:
        msg = f"policy variables are not modelled: {expected!r}"
        raise PolicyError(msg)
    if operator in ("StringEquals", "StringNotEquals"):
        return actual == expected
    if operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return actual.casefold() == expected.casefold()
    if operator in ("StringLike", "StringNotLike"):
        return _wildcard(expected, actual)
    if operator == "Bool":
        return actual.lower() == expected.lower()
    msg = f"condition operator {operator!r} is not modelled"
    raise PolicyError(msg)


def _one_value_matches(base: str, actual: str, expected: list[str]) -> bool:
    """Values listed under one key are ORed; a negated operator wants none of them to match."""
    hit = any(_value_matches(base, actual, e) for e in expected)
    return not hit if base in _NEGATED else hit


def _condition_holds(operator: str, key: str, expected: list[str], request: PolicyRequest) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if qualifier not in ("", "ForAnyValue", "ForAllValues") or base not in _STRING_OPERATORS:
        msg = f"condition operator {operator!r} is not modelled"
        raise PolicyError(msg)
    actual = _key_values(request.context, key)
    if base == "Null":
        if expected not in (["true"], ["false"]):
            msg = f"Null takes true or false, not {expected!r}"
            raise PolicyError(msg)
        return (actual is None) == (expected == ["true"])
    if actual is None:
        # A key absent from the request fails the condition, except where IAM says otherwise.
        return if_exists or base in _NEGATED or qualifier == "ForAllValues"
    if qualifier == "ForAnyValue":
        return any(_one_value_matches(base, a, expected) for a in actual)
    if qualifier == "ForAllValues":
        return all(_one_value_matches(base, a, expected) for a in actual)
    if len(actual) != 1:
        msg = f"{key} has {len(actual)} values; a single-valued operator cannot compare them"
        raise PolicyError(msg)
    return _one_value_matches(base, actual[0], expected)


def _statement_applies(statement: Mapping[str, Any], request: PolicyRequest) -> bool:
    unknown = set(statement) - _STATEMENT_KEYS
    if unknown:
        msg = f"statement elements not modelled: {sorted(unknown)}"
        raise PolicyError(msg)
    if "Principal" not in statement:
        # Trust policies and bucket policies are resource policies: IAM requires a Principal.
        msg = "a resource policy statement must have a Principal"
        raise PolicyError(msg)
    if not _principal_matches(statement["Principal"], request):
        return False
    actions = _as_strings(statement.get("Action"), "Action")
    if not any(_wildcard(a, request.action, ignore_case=True) for a in actions):
        return False
    if request.resource is None:
        if "Resource" in statement:
            # IAM refuses a trust policy that names resources (MalformedPolicyDocument).
            msg = "a trust policy statement must not have a Resource"
            raise PolicyError(msg)
    elif not any(
        _wildcard(r, request.resource) for r in _as_strings(statement.get("Resource"), "Resource")
    ):
        return False
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, Mapping):
        msg = "Condition must be an object"
        raise PolicyError(msg)
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            msg = f"Condition.{operator} must be an object"
            raise PolicyError(msg)
        # Operators are ANDed, and so are the keys under each operator.
        for key, expected in block.items():
            if not _condition_holds(operator, key, _as_strings(expected, key), request):
                return False
    return True


def evaluate_policy(policy: str | Mapping[str, Any], request: PolicyRequest) -> Decision:
    """IAM's decision for one request: an explicit Deny wins, then any Allow, else deny."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    if not isinstance(document, Mapping):
        msg = "a policy is a JSON object"
        raise PolicyError(msg)
    unknown = set(document) - _POLICY_KEYS
    if unknown:
        msg = f"policy elements not modelled: {sorted(unknown)}"
        raise PolicyError(msg)
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        msg = "Statement must be an object or a list"
        raise PolicyError(msg)
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping):
            msg = "each statement is an object"
            raise PolicyError(msg)
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            msg = f"Effect must be Allow or Deny, not {effect!r}"
            raise PolicyError(msg)
        if _statement_applies(statement, request):
            if effect == "Deny":
                return "explicit-deny"
            allowed = True
    return "allow" if allowed else "implicit-deny"
