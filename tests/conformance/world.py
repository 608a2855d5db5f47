"""The world a cell is proven in: the default stack planned with the suite's keys, and the clouds.

The stack is copied into a temporary project whose clusters' published keys are the suite's own:
a cluster whose JWKS the stack builds from public keys gets the suite's public key, and a managed
cluster (whose keys live with its cloud) is played by the suite at the issuer URL the plan shows.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fluxtrust.config import load_stack_file
from fluxtrust.plan import Plan, run_plan

from .cells import Cell, Source
from .tokens import SigningKey, mint, service_account_claims
from .verifiers import Clouds
from .web import Web

__all__ = [
    "DEFAULT_STACK",
    "REPO",
    "UNTRUSTED_ISSUERS",
    "CellSubject",
    "World",
    "build_world",
]

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STACK = REPO / "stacks" / "Pulumi.dev.yaml"
STACK = "dev"

# For each source type, a cluster of the same kind that the stack does not trust. The GKE one is
# in another project: GKE's built-in pool trusts every cluster of its own project.
UNTRUSTED_ISSUERS: Mapping[Source, str] = {
    "aks": (
        "https://westeurope.oic.prod-aks.azure.com/11111111-2222-3333-4444-555555555555/"
        "0badc0de-0000-4000-8000-000000000000/"
    ),
    "eks": "https://oidc.eks.eu-west-1.amazonaws.com/id/0BADC0DE00000000000000000000000",
    "gke": (
        "https://container.googleapis.com/v1/projects/another-project/locations/europe-west1/"
        "clusters/prod-gke"
    ),
    "other": "https://untrusted-ci-issuer.s3.eu-west-1.amazonaws.com",
}


@dataclass(frozen=True)
class CellSubject:
    """The cluster and ServiceAccount of the stack that stand for one cell."""

    cell: Cell
    cluster: str
    identity: str
    namespace: str
    name: str

    @property
    def service_account(self) -> str:
        """`namespace/name`, as the plan's annotations output keys it."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class World:
    """The planned stack, the clouds it declares, and the keys of every cluster."""

    plan: Plan
    config: Mapping[str, Any]
    clouds: Clouds
    keys: Mapping[str, SigningKey]
    untrusted_key: SigningKey
    rogue_key: SigningKey
    now: int

    def cluster(self, name: str) -> Mapping[str, Any]:
        """The cluster's entry in the stack configuration."""
        return next(c for c in self.config["clusters"] if c["name"] == name)

    def identity(self, name: str) -> Mapping[str, Any]:
        """The identity's entry in the stack configuration."""
        return next(i for i in self.config["identities"] if i["name"] == name)

    def declared_identity(self, name: str) -> Mapping[str, Any]:
        """The identity as the plan's trustGraph output describes it."""
        identities = self.plan.outputs["trustGraph"]["identities"]
        return cast("Mapping[str, Any]", next(i for i in identities if i["name"] == name))

    def issuer(self, cluster: str) -> str:
        """The issuer URL the plan shows for the cluster."""
        return str(self.plan.outputs["issuers"][cluster]["issuerUrl"])

    def annotations(self, cluster: str, service_account: str) -> Mapping[str, str]:
        """The annotations the plan gives a ServiceAccount on a cluster."""
        by_cluster = self.plan.outputs["annotations"].get(cluster) or {}
        return cast("Mapping[str, str]", by_cluster.get(service_account) or {})

    def is_hosted(self, cluster: str) -> bool:
        """Whether the stack publishes the cluster's issuer documents itself."""
        return "host" in (self.cluster(cluster).get("issuer") or {})

    def subject(self, cell: Cell) -> CellSubject:
        """The first cluster of the cell's type with an identity of the cell's level and cloud."""
        for cluster in self.config["clusters"]:
            if cluster["type"] != cell.source:
                continue
            for identity in self.config.get("identities") or []:
                if (
                    identity["level"] == cell.level
                    and cell.target in identity
                    and cluster["name"] in identity["clusters"]
                ):
                    namespace, _, name = str(identity["serviceAccount"]).partition("/")
                    return CellSubject(cell, cluster["name"], identity["name"], namespace, name)
        msg = (
            f"the stack declares no {cell.level}-level identity for {cell.target} "
            f"on a {cell.source} cluster"
        )
        raise LookupError(msg)

    def token(
        self,
        cluster: str,
        *,
        namespace: str,
        name: str,
        audience: str,
        issuer: str | None = None,
        key: SigningKey | None = None,
        kid: str | None = None,
        now: int | None = None,
    ) -> str:
        """The token the cluster's API server mints; keyword overrides forge a bad one."""
        claims = service_account_claims(
            issuer=issuer if issuer is not None else self.issuer(cluster),
            namespace=namespace,
            name=name,
            audience=audience,
            now=now if now is not None else self.now,
        )
        return mint(key if key is not None else self.keys[cluster], claims, kid=kid)


def _use_test_keys(cluster: dict[str, Any], key: SigningKey, project: Path) -> None:
    """Points a cluster's JWKS source at the test key, for sources that name key files."""
    jwks = cluster.get("jwks")
    if not isinstance(jwks, dict):
        return
    keys = project / "keys"
    keys.mkdir(exist_ok=True)
    if "publicKeys" in jwks:
        (keys / f"{cluster['name']}.pub").write_bytes(key.public_pem())
        cluster["jwks"] = {"publicKeys": [f"keys/{cluster['name']}.pub"]}
    elif "file" in jwks:
        (keys / f"{cluster['name']}.jwks.json").write_text(json.dumps(key.jwks()))
        cluster["jwks"] = {"file": f"keys/{cluster['name']}.jwks.json"}
    else:
        msg = f"cluster {cluster['name']}: the suite cannot control keys from {sorted(jwks)}"
        raise ValueError(msg)


def _as_list(value: object) -> list[object]:
    """A setting that takes one value or a list of them, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def build_world(project: Path, keys: Mapping[str, SigningKey]) -> World:
    """Plans a copy of the default stack in `project` with the given keys, and serves its issuers.

    `keys` holds one key per cluster of the stack, plus `untrusted` and `rogue`.
    """
    shutil.copy(REPO / "Pulumi.yaml", project / "Pulumi.yaml")
    (project / "stacks").mkdir()
    stack_file = project / "stacks" / DEFAULT_STACK.name
    shutil.copy(DEFAULT_STACK, stack_file)
    config = json.loads(json.dumps(load_stack_file(stack_file)))
    for cluster in config["clusters"]:
        _use_test_keys(cluster, keys[cluster["name"]], project)
    plan = run_plan(config, stack=STACK, project_dir=project)

    web = Web()
    aws = config.get("aws") or {}
    web.serve_s3_objects(plan.resources, str(aws.get("region") or "us-east-1"))
    for cluster in config["clusters"]:
        if "host" not in (cluster.get("issuer") or {}):
            issuer = str(plan.outputs["issuers"][cluster["name"]]["issuerUrl"])
            web.serve_managed_issuer(issuer, keys[cluster["name"]], cluster["name"])
    for source, issuer in UNTRUSTED_ISSUERS.items():
        web.serve_managed_issuer(issuer, keys["untrusted"], f"untrusted {source} cluster")

    gcp = config.get("gcp") or {}
    azure = config.get("azure") or {}
    identities = plan.outputs["trustGraph"]["identities"]
    now = int(time.time())
    clouds = Clouds(
        resources=tuple(plan.resources),
        web=web,
        now=now,
        aws_account_id=aws.get("accountId"),
        aws_existing_oidc_providers=tuple(
            str(arn) for c in config["clusters"] for arn in _as_list(c.get("awsOidcProviderArn"))
        ),
        azure_tenant_id=azure.get("tenantId"),
        azure_client_ids={
            i["clouds"]["azure"]["clientId"]: i["clouds"]["azure"]["name"]
            for i in identities
            if "azure" in i["clouds"]
        },
        azure_principal_ids={
            i["clouds"]["azure"]["name"]: i["clouds"]["azure"]["principalId"]
            for i in identities
            if "azure" in i["clouds"]
        },
        gcp_projects={str(gcp["project"]): str(gcp["projectNumber"])} if gcp else {},
    )
    return World(
        plan=plan,
        config=config,
        clouds=clouds,
        keys=keys,
        untrusted_key=keys["untrusted"],
        rogue_key=keys["rogue"],
        now=now,
    )
