"""Tests for the offline plan: its JSON shape, determinism, views, and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fluxtrust import cli
from fluxtrust.config import load_stack_file
from fluxtrust.plan import Plan, run_plan

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STACK = REPO / "stacks" / "Pulumi.dev.yaml"


@pytest.fixture(scope="module")
def default_plan() -> Plan:
    """The default stack, planned once for the module."""
    return run_plan(load_stack_file(DEFAULT_STACK), stack="dev", project_dir=REPO)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Runs `python -m fluxtrust` in-process; returns (status, stdout, stderr)."""
    status = cli.main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class TestJsonShape:
    def test_top_level_keys(self, default_plan: Plan) -> None:
        """The plan is one object with stack, resources and outputs."""
        document = default_plan.to_json()

        assert set(document) == {"stack", "resources", "outputs"}
        assert document["stack"] == "dev"

    def test_every_resource_has_type_name_parent_inputs(self, default_plan: Plan) -> None:
        """Each resource carries its type token, name, parent and inputs in wire names."""
        resources = default_plan.to_json()["resources"]

        assert resources
        for resource in resources:
            assert {"type", "name", "parent", "inputs"} <= set(resource)
            assert resource["type"].count(":") >= 2 or resource["type"].startswith("pulumi:")
            assert isinstance(resource["inputs"], dict)

    def test_oidc_provider_inputs_are_wire_names(self, default_plan: Plan) -> None:
        """Inputs use Pulumi's wire names (clientIdLists), exactly as handed to the provider."""
        providers = default_plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")

        assert providers
        assert all(p.inputs["clientIdLists"] == ["sts.amazonaws.com"] for p in providers)
        assert all(p.inputs["url"].startswith("https://") for p in providers)

    def test_children_name_their_parent(self, default_plan: Plan) -> None:
        """Every cloud resource hangs under a fluxtrust component, so the tree reads as a graph."""
        names = {r.name for r in default_plan.resources}

        for resource in default_plan.resources:
            if resource.type == "fluxtrust:graph:TrustGraph":
                assert resource.parent is None
            else:
                assert resource.parent in names, resource.name

    def test_component_tokens_follow_one_scheme(self, default_plan: Plan) -> None:
        """Every component's type token is fluxtrust:<module>:<Type>."""
        components = [r for r in default_plan.resources if not r.custom]

        assert components
        for component in components:
            package, module, type_name = component.type.split(":")
            assert package == "fluxtrust"
            assert module.islower()
            assert type_name[0].isupper()

    def test_outputs_describe_the_graph(self, default_plan: Plan) -> None:
        """The outputs hold the graph, the issuers, the annotations and the Flux patches."""
        outputs = default_plan.outputs

        assert {"trustGraph", "issuers", "annotations", "fluxPatches"} <= set(outputs)
        clusters = {c["name"] for c in outputs["trustGraph"]["clusters"]}
        assert clusters == {"prod-aks", "prod-eks", "prod-gke", "ci-kind"}

    def test_secrets_are_redacted(self) -> None:
        """A secret input or output is shown as [secret], never in clear."""
        import pulumi
        import pulumi_aws as aws

        def program() -> None:
            aws.iam.RolePolicy("p", role="r", policy=pulumi.Output.secret("{}"))
            pulumi.export("token", pulumi.Output.secret("s3cr3t"))

        plan = run_plan({}, stack="t", program=program)

        assert plan.named("p").inputs["policy"] == "[secret]"
        assert plan.outputs["token"] == "[secret]"
        assert "s3cr3t" not in plan.dumps()


class TestDeterminism:
    def test_two_runs_are_byte_identical(self, default_plan: Plan) -> None:
        """The same configuration gives the same bytes, so a preview of it shows no change."""
        again = run_plan(load_stack_file(DEFAULT_STACK), stack="dev", project_dir=REPO)

        assert again.dumps() == default_plan.dumps()

    def test_cli_json_is_byte_identical(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Two runs of `plan --json` print identical bytes."""
        args = ["plan", "--config", str(DEFAULT_STACK), "--json"]

        first = run_cli(args, capsys)
        second = run_cli(args, capsys)

        assert first[0] == 0
        assert first[1] == second[1]
        assert json.loads(first[1])["stack"] == "dev"


class TestViews:
    def test_table_groups_cluster_issuer_cloud_identity(self, default_plan: Plan) -> None:
        """The table reads cluster -> issuer -> cloud -> identity -> permissions."""
        from fluxtrust.render import render_table

        text = render_table(default_plan)

        kind = text.index("cluster ci-kind (other)")
        issuer = text.index(
            "issuer    https://acme-ci-kind-issuer.s3.eu-west-1.amazonaws.com", kind
        )
        aws = text.index("-> aws", issuer)
        identity = text.index("source-oci [controller] flux-system/source-controller", aws)
        permission = text.index("AmazonEC2ContainerRegistryReadOnly", identity)
        assert kind < issuer < aws < identity < permission

    def test_mermaid_is_a_flowchart_with_every_cluster(self, default_plan: Plan) -> None:
        """The Mermaid picture names every cluster and links identities to clouds."""
        from fluxtrust.render import render_mermaid

        text = render_mermaid(default_plan)

        assert text.startswith("flowchart LR\n")
        for cluster in ("prod-aks", "prod-eks", "prod-gke", "ci-kind"):
            assert f"c_{cluster.replace('-', '_')}[" in text
        assert "i_tenant_apps_gcp --> gcp" in text
        assert "c_ci_kind -->|object| i_tenant_apps_aws" in text

    def test_dot_is_a_digraph(self, default_plan: Plan) -> None:
        """The Graphviz picture is a digraph with the same edges."""
        from fluxtrust.render import render_dot

        text = render_dot(default_plan)

        assert text.startswith("digraph fluxtrust {")
        assert text.rstrip().endswith("}")
        assert 'c_prod_eks -> i_source_oci_aws [label="controller"];' in text


def _write_stack(tmp_path: Path, config: dict[str, Any]) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: fluxtrust\nruntime: python\n")
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(json.dumps({"config": {f"fluxtrust:{k}": v for k, v in config.items()}}))
    return path


class TestCommandLine:
    def test_config_error_exits_2_with_messages_only(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A config error prints the key path and message on stderr, nothing on stdout."""
        path = _write_stack(
            tmp_path,
            {"clusters": [{"name": "Bad", "type": "other", "issuer": {"url": "http://x"}}]},
        )

        status, out, err = run_cli(["plan", "--config", str(path)], capsys)

        assert status == 2
        assert out == ""
        assert "fluxtrust:clusters[0].name: is 'Bad'" in err
        assert "fluxtrust:clusters[0].issuer.url: is 'http://x'; must start with https://" in err
        assert "Traceback" not in err

    def test_missing_stack_names_the_file_and_the_stacks(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--stack with no such file says where it looked and which stacks exist."""
        monkeypatch.chdir(REPO)

        status, _, err = run_cli(["plan", "--stack", "nope"], capsys)

        assert status == 2
        assert "Pulumi.nope.yaml does not exist" in err
        assert "dev" in err

    def test_bad_key_file_declares_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A key file that is not a public key stops the run with one error naming the file."""
        (tmp_path / "bad.pub").write_text("not a key\n")
        path = _write_stack(
            tmp_path,
            {
                "aws": {"region": "eu-west-1", "accountId": "123456789012"},
                "clusters": [
                    {
                        "name": "kind",
                        "type": "other",
                        "issuer": {"host": {"cloud": "aws", "bucket": "acme-kind-issuer"}},
                        "jwks": {"publicKeys": ["bad.pub"]},
                    }
                ],
            },
        )

        status, out, err = run_cli(["plan", "--config", str(path), "--json"], capsys)

        assert status == 2
        assert out == ""
        assert "bad.pub" in err

    def test_write_patches(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--write-patches writes each cluster's kustomization for flux bootstrap."""
        status, _, err = run_cli(
            ["plan", "--config", str(DEFAULT_STACK), "--write-patches", str(tmp_path)], capsys
        )

        assert status == 0
        kustomization = (tmp_path / "ci-kind" / "kustomization.yaml").read_text()
        assert "ObjectLevelWorkloadIdentity=true" in kustomization
        assert "audience: sts.amazonaws.com" in kustomization
        assert "wrote" in err

    def test_default_stack_plans_from_a_copy(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`plan` with no flag plans stacks/Pulumi.dev.yaml of the project it runs in."""
        shutil.copytree(REPO / "stacks", tmp_path / "stacks")
        shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
        monkeypatch.chdir(tmp_path)

        status, out, _ = run_cli(["plan"], capsys)

        assert status == 0
        assert "fluxtrust plan for stack 'dev'" in out
