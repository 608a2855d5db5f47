"""The README's example of reusing a component from another program runs as printed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fluxtrust.plan import run_plan

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The Python code between the reuse-example markers of the README."""
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- reuse-example:start -->\s*```python\n(.*?)```\s*<!-- reuse-example:end -->",
        text,
        re.DOTALL,
    )
    assert block is not None, "the README lost its reuse example"
    return block.group(1)


def test_readme_example_declares_a_pinned_role() -> None:
    """The example, run as a program of its own, declares a provider and a pinned role."""
    code = compile(readme_example(), "README.md", "exec")

    plan = run_plan({}, stack="other-program", program=lambda: exec(code, {}))

    provider = plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")[0]
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    role = plan.of_type("aws:iam/role:Role")[0]
    host = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:aud": "sts.amazonaws.com",
        f"{host}:sub": "system:serviceaccount:flux-system:source-controller",
    }
    assert plan.outputs["roleArn"].endswith(":role/flux-source-controller")
