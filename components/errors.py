"""Errors that fluxtrust shows to users.

Every error a user can fix by editing the stack configuration is a `pulumi.RunError`, so that
`pulumi up` and `python -m fluxtrust plan` print the message alone, without a Python traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

__all__ = ["ConfigError", "ConfigProblem"]


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One thing wrong with the stack configuration.

    Attributes:
        path: the key path, e.g. ``fluxtrust:identities[2].serviceAccount``.
        message: what is wrong and what is allowed, in one sentence.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(pulumi.RunError):
    """The stack configuration is invalid; raised before any resource is declared.

    All problems found in one pass are reported together, so a user fixes them in one edit.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        count = len(self.problems)
        heading = f"the stack configuration has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([heading, *(f"  - {p}" for p in self.problems)]))
