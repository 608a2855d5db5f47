"""Deterministic stand-ins for the values a cloud provider computes when a resource is created.

The offline plan and the tests run the program under Pulumi's mock engine, where no provider
answers. Each resource type whose outputs the program reads gets a function here that derives
those outputs from the resource's inputs alone (an ARN built from a name, an id as a UUID of the
name), so two runs on the same configuration produce byte-identical plans.

Values a provider would look up (the caller's AWS account, an EKS cluster's issuer) are derived
from the look-up's arguments the same way.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PLACEHOLDER_NAMESPACE",
    "PlaceholderContext",
    "invoke_result",
    "placeholder_digits",
    "placeholder_uuid",
    "resource_outputs",
]

# A fixed namespace so that placeholder UUIDs are stable across machines and runs.
PLACEHOLDER_NAMESPACE = uuid.UUID("6f0e4b7e-2f55-4b8e-9a57-3c1f2e0d7a11")

Inputs = Mapping[str, Any]


def placeholder_uuid(*parts: str) -> str:
    """A UUID derived from `parts`: what the plan shows for an id a cloud would assign."""
    return str(uuid.uuid5(PLACEHOLDER_NAMESPACE, "\x1f".join(parts)))


def placeholder_digits(count: int, *parts: str) -> str:
    """`count` decimal digits derived from `parts` (an AWS account id, a project number)."""
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    return str(digest % 10**count).zfill(count)


@dataclass
class PlaceholderContext:
    """What the placeholders need beyond a resource's own inputs (the stack's known settings)."""

    stack: str
    aws_account_id: str | None = None
    aws_region: str | None = None
    azure_subscription_id: str | None = None
    azure_tenant_id: str | None = None
    gcp_project: str | None = None
    gcp_project_number: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def account(self) -> str:
        """The AWS account: configured, or a placeholder derived from the stack name."""
        return self.aws_account_id or placeholder_digits(12, "aws-account", self.stack)

    @property
    def subscription(self) -> str:
        """The Azure subscription id, or a placeholder."""
        return self.azure_subscription_id or placeholder_uuid("azure-subscription", self.stack)


ResourceFn = Callable[[str, Inputs, PlaceholderContext], tuple[str, dict[str, Any]]]
InvokeFn = Callable[[Inputs, PlaceholderContext], dict[str, Any]]

_RESOURCES: dict[str, ResourceFn] = {}
_INVOKES: dict[str, InvokeFn] = {}


def _resource(token: str) -> Callable[[ResourceFn], ResourceFn]:
    def register(fn: ResourceFn) -> ResourceFn:
        _RESOURCES[token] = fn
        return fn

    return register


def _invoke(token: str) -> Callable[[InvokeFn], InvokeFn]:
    def register(fn: InvokeFn) -> InvokeFn:
        _INVOKES[token] = fn
        return fn

    return register


def resource_outputs(
    type_token: str, name: str, inputs: Inputs, context: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    """The id and output properties the mock engine hands back for a new resource.

    Outputs are the inputs plus whatever the provider would compute; a type without a function
    here gets its inputs back and an id derived from its name.
    """
    fn = _RESOURCES.get(type_token)
    if fn is None:
        return f"{name}-id", dict(inputs)
    resource_id, computed = fn(name, inputs, context)
    return resource_id, {**inputs, **computed}


def invoke_result(token: str, args: Inputs, context: PlaceholderContext) -> dict[str, Any]:
    """The result the mock engine hands back for a provider function call (a look-up)."""
    fn = _INVOKES.get(token)
    if fn is None:
        msg = f"the offline plan cannot answer the look-up {token}"
        raise NotImplementedError(msg)
    return fn(args, context)


# --------------------------------------------------------------------------------------------
# AWS


@_invoke("aws:index/getCallerIdentity:getCallerIdentity")
def _aws_caller(args: Inputs, ctx: PlaceholderContext) -> dict[str, Any]:
    account = ctx.account
    return {
        "accountId": account,
        "arn": f"arn:aws:iam::{account}:user/fluxtrust-plan",
        "id": account,
        "userId": placeholder_uuid("aws-user", ctx.stack),
    }


@_invoke("aws:index/getPartition:getPartition")
def _aws_partition(args: Inputs, ctx: PlaceholderContext) -> dict[str, Any]:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}


@_invoke("aws:eks/getCluster:getCluster")
def _aws_eks_cluster(args: Inputs, ctx: PlaceholderContext) -> dict[str, Any]:
    name = str(args.get("name"))
    region = str(args.get("region") or ctx.aws_region or "us-east-1")
    oidc_id = hashlib.sha256(f"{ctx.account}/{region}/{name}".encode()).hexdigest()[:32].upper()
    issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"
    return {
        "name": name,
        "arn": f"arn:aws:eks:{region}:{ctx.account}:cluster/{name}",
        "identities": [{"oidcs": [{"issuer": issuer}]}],
        "id": name,
    }


@_resource("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _aws_oidc_provider(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    host_path = str(inputs.get("url", "")).removeprefix("https://")
    arn = f"arn:aws:iam::{ctx.account}:oidc-provider/{host_path}"
    return arn, {"arn": arn}


@_resource("aws:iam/role:Role")
def _aws_role(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    role_name = str(inputs.get("name") or name)
    path = str(inputs.get("path") or "/")
    return role_name, {
        "name": role_name,
        "arn": f"arn:aws:iam::{ctx.account}:role{path}{role_name}",
        "uniqueId": "AROA" + placeholder_digits(17, "aws-role", role_name),
    }


@_resource("aws:s3/bucket:Bucket")
@_resource("aws:s3/bucketV2:BucketV2")
def _aws_bucket(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    bucket = str(inputs.get("bucket") or name)
    region = str(inputs.get("region") or ctx.aws_region or "us-east-1")
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "region": region,
    }


# --------------------------------------------------------------------------------------------
# Azure


@_invoke("azure-native:containerservice:getManagedCluster")
def _azure_aks(args: Inputs, ctx: PlaceholderContext) -> dict[str, Any]:
    group = str(args.get("resourceGroupName"))
    name = str(args.get("resourceName"))
    tenant = ctx.azure_tenant_id or placeholder_uuid("azure-tenant", ctx.stack)
    cluster_uuid = placeholder_uuid("aks-oidc", ctx.subscription, group, name)
    region = ctx.extra.get("azure_location", "westeurope")
    return {
        "name": name,
        "location": region,
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{region}.oic.prod-aks.azure.com/{tenant}/{cluster_uuid}/",
        },
    }


@_resource("azure-native:managedidentity:UserAssignedIdentity")
def _azure_uami(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    group = str(inputs.get("resourceGroupName"))
    resource_name = str(inputs.get("resourceName") or name)
    resource_id = (
        f"/subscriptions/{ctx.subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.ManagedIdentity/userAssignedIdentities/{resource_name}"
    )
    return resource_id, {
        "name": resource_name,
        "clientId": placeholder_uuid("azure-client-id", resource_id),
        "principalId": placeholder_uuid("azure-principal-id", resource_id),
        "tenantId": ctx.azure_tenant_id or placeholder_uuid("azure-tenant", ctx.stack),
    }


@_resource("azure-native:managedidentity:FederatedIdentityCredential")
def _azure_fic(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    identity = str(inputs.get("resourceName"))
    fic = str(inputs.get("federatedIdentityCredentialResourceName") or name)
    group = str(inputs.get("resourceGroupName"))
    resource_id = (
        f"/subscriptions/{ctx.subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.ManagedIdentity/userAssignedIdentities/{identity}/"
        f"federatedIdentityCredentials/{fic}"
    )
    return resource_id, {"name": fic}


@_resource("azure-native:authorization:RoleAssignment")
def _azure_role_assignment(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    scope = str(inputs.get("scope"))
    assignment = str(inputs.get("roleAssignmentName") or placeholder_uuid("ra", name))
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{assignment}", {
        "name": assignment
    }


@_resource("azure-native:storage:StorageAccount")
def _azure_storage(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    account = str(inputs.get("accountName") or name)
    group = str(inputs.get("resourceGroupName"))
    resource_id = (
        f"/subscriptions/{ctx.subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.Storage/storageAccounts/{account}"
    )
    return resource_id, {
        "name": account,
        "primaryEndpoints": {"blob": f"https://{account}.blob.core.windows.net/"},
    }


# --------------------------------------------------------------------------------------------
# GCP


@_resource("gcp:iam/workloadIdentityPool:WorkloadIdentityPool")
def _gcp_pool(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    number = ctx.gcp_project_number or placeholder_digits(12, "gcp-project", ctx.stack)
    pool = str(inputs.get("workloadIdentityPoolId"))
    full = f"projects/{number}/locations/global/workloadIdentityPools/{pool}"
    return full, {"name": full, "state": "ACTIVE"}


@_resource("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
def _gcp_provider(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    number = ctx.gcp_project_number or placeholder_digits(12, "gcp-project", ctx.stack)
    pool = str(inputs.get("workloadIdentityPoolId"))
    provider = str(inputs.get("workloadIdentityPoolProviderId"))
    full = f"projects/{number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    return full, {"name": full, "state": "ACTIVE"}


@_resource("gcp:serviceaccount/account:Account")
def _gcp_service_account(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    project = str(inputs.get("project") or ctx.gcp_project)
    account_id = str(inputs.get("accountId"))
    email = f"{account_id}@{project}.iam.gserviceaccount.com"
    return f"projects/{project}/serviceAccounts/{email}", {
        "email": email,
        "name": f"projects/{project}/serviceAccounts/{email}",
        "member": f"serviceAccount:{email}",
        "uniqueId": placeholder_digits(21, "gsa", email),
    }


@_resource("gcp:storage/bucket:Bucket")
def _gcp_bucket(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    bucket = str(inputs.get("name") or name)
    return bucket, {
        "name": bucket,
        "url": f"gs://{bucket}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
    }


# --------------------------------------------------------------------------------------------
# Issuer hosting and generated signing keys


@_resource("aws:s3/bucketObjectv2:BucketObjectv2")
def _aws_bucket_object(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    key = str(inputs.get("key"))
    bucket = str(inputs.get("bucket"))
    return key, {
        "arn": f"arn:aws:s3:::{bucket}/{key}",
        "versionId": placeholder_uuid("v", bucket, key),
    }


@_resource("azure-native:storage:BlobContainer")
def _azure_blob_container(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    container = str(inputs.get("containerName") or name)
    group = str(inputs.get("resourceGroupName"))
    account = str(inputs.get("accountName"))
    resource_id = (
        f"/subscriptions/{ctx.subscription}/resourceGroups/{group}/providers/"
        f"Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{container}"
    )
    return resource_id, {"name": container}


@_resource("azure-native:storage:Blob")
def _azure_blob(name: str, inputs: Inputs, ctx: PlaceholderContext) -> tuple[str, dict[str, Any]]:
    blob = str(inputs.get("blobName") or name)
    account, container = inputs.get("accountName"), inputs.get("containerName")
    url = f"https://{account}.blob.core.windows.net/{container}/{blob}"
    return url, {"name": blob, "url": url}


@_resource("gcp:storage/bucketObject:BucketObject")
def _gcp_bucket_object(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    bucket = str(inputs.get("bucket"))
    key = str(inputs.get("name"))
    return f"{bucket}-{key}", {
        "outputName": key,
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{key}",
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{key}",
    }


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_RSA_EXPONENT = 65537
_KEY_CACHE: dict[tuple[str, str, int], tuple[str, str, str]] = {}


@functools.cache
def _small_primes_product(limit: int) -> int:
    """The product of the odd primes below `limit`."""
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return math.prod(i for i in range(3, limit) if sieve[i])


# One gcd against the odd primes below 2**16 discards ~90% of candidates before any modular
# exponentiation, which is what makes a 2048-bit stand-in key cheap enough for a plan.
_SIEVE_LIMIT = 1 << 16


def _probable_prime(n: int, rng: random.Random) -> bool:
    """Miller-Rabin with witnesses drawn from `rng`, so the same seed finds the same primes."""
    if math.gcd(n, _small_primes_product(_SIEVE_LIMIT)) != 1:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    # Base 2 first: nearly every composite fails it, so the random rounds run on primes only.
    # A few random rounds more suffice for random candidates; a composite that slipped through
    # would be caught when cryptography checks the assembled key.
    for witness in (2, *(rng.randrange(3, n - 2) for _ in range(4))):
        x = pow(witness, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _seeded_prime(rng: random.Random, bits: int) -> int:
    # Top two bits set: the product of two such primes has exactly 2 * bits bits.
    candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
    while candidate % _RSA_EXPONENT == 1 or not _probable_prime(candidate, rng):
        candidate += 2
    return candidate


def placeholder_private_key(name: str, algorithm: str, size: int) -> tuple[str, str, str]:
    """A private key derived from `name`: (traditional PEM, PKCS#8 PEM, public PEM).

    A real provider generates a random key once and keeps it in state; the offline plan has no
    state, so the key is derived from the resource's name and the same plan gives the same key.
    Never use these keys for anything but a plan: anyone can derive them.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    cache_key = (name, algorithm, size)
    if cache_key in _KEY_CACHE:
        return _KEY_CACHE[cache_key]
    seed = hashlib.sha256(
        "\x1f".join(("private-key", name, algorithm, str(size))).encode()
    ).digest()
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if algorithm == "ECDSA":
        key = ec.derive_private_key(
            int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1()
        )
    else:
        # Seeded on purpose: a reproducible stand-in, never a secret.
        rng = random.Random(seed)
        p = _seeded_prime(rng, size // 2)
        q = _seeded_prime(rng, size // 2)
        while q == p:
            q = _seeded_prime(rng, size // 2)
        d = pow(_RSA_EXPONENT, -1, (p - 1) * (q - 1))
        key = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(_RSA_EXPONENT, p * q),
        ).private_key()
    # PKCS#1 for RSA, SEC 1 for EC: the "traditional" PEM the provider's privateKeyPem holds.
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    none = serialization.NoEncryption()
    pem = serialization.Encoding.PEM
    result = (
        key.private_bytes(pem, traditional, none).decode("ascii"),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, none).decode("ascii"),
        key.public_key()
        .public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii"),
    )
    _KEY_CACHE[cache_key] = result
    return result


@_resource("tls:index/privateKey:PrivateKey")
def _tls_private_key(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    algorithm = str(inputs.get("algorithm") or "RSA")
    size = int(inputs.get("rsaBits") or 2048) if algorithm == "RSA" else 256
    private_pem, pkcs8_pem, public_pem = placeholder_private_key(name, algorithm, size)
    # The provider's id is the SHA-1 of the public key; any stable digest serves the plan.
    fingerprint = hashlib.sha1(public_pem.encode()).hexdigest()
    return fingerprint, {
        "privateKeyPem": private_pem,
        "privateKeyPemPkcs8": pkcs8_pem,
        "publicKeyPem": public_pem,
    }


# --------------------------------------------------------------------------------------------
# Cloud trust: permission grants (ids shaped as each provider shapes them)


@_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def _aws_role_policy_attachment(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    # The form `pulumi import` takes: role name and policy ARN.
    return f"{inputs.get('role')}/{inputs.get('policyArn')}", {}


@_resource("aws:iam/rolePolicy:RolePolicy")
def _aws_role_policy(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    policy_name = str(inputs.get("name") or name)
    return f"{inputs.get('role')}:{policy_name}", {"name": policy_name}


@_resource("gcp:projects/iAMMember:IAMMember")
def _gcp_project_iam_member(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    project = str(inputs.get("project") or ctx.gcp_project)
    role, member = str(inputs.get("role")), str(inputs.get("member"))
    return f"{project}/{role}/{member}", {
        "project": project,
        "etag": "BwY" + placeholder_digits(9, "gcp-etag", project, role, member),
    }


@_resource("gcp:serviceaccount/iAMMember:IAMMember")
def _gcp_service_account_iam_member(
    name: str, inputs: Inputs, ctx: PlaceholderContext
) -> tuple[str, dict[str, Any]]:
    account, role = str(inputs.get("serviceAccountId")), str(inputs.get("role"))
    member = str(inputs.get("member"))
    return f"{account}/{role}/{member}", {
        "etag": "BwY" + placeholder_digits(9, "gcp-etag", account, role, member),
    }
