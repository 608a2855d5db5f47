"""Service-account signing keys, JSON Web Key Sets and OIDC discovery documents.

Pure logic: nothing here creates Pulumi resources or touches the network. Clouds verify a
Kubernetes service-account token by fetching ``<issuer>/.well-known/openid-configuration``
and the JWKS it points to, so everything produced here must match what the Kubernetes API
server itself serves: the same ``kid`` computation, the same members, public keys only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import yaml
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

__all__ = [
    "GeneratedKey",
    "KeyMaterialError",
    "api_server_flags",
    "canonical_json",
    "discovery_document",
    "generate_signing_key",
    "jwk_from_public_key",
    "jwks_from_public_key_files",
    "jwks_uri_for",
    "kind_cluster_config",
    "kubernetes_key_id",
    "load_jwks_file",
    "load_public_keys_pem",
    "signing_algorithms",
    "validate_jwks",
]

MIN_RSA_BITS = 2048
"""Smallest RSA modulus accepted; the clouds and Kubernetes guidance all require 2048."""

_ALLOWED_KEYS = "RSA of at least 2048 bits (RS256) or EC on curve P-256 (ES256)"
_ALG_FOR_KTY = {"RSA": "RS256", "EC": "ES256"}
# Members that only a private JWK carries; "k" is the secret of a symmetric (oct) key.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}
_P256_COORDINATE_BYTES = 32
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_PUBLIC_PEM_LABELS = ("PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE")


class KeyMaterialError(pulumi.RunError):
    """A public key, key file or JWKS document that cannot be published.

    The message always starts with the file or source label, then says what is wrong and
    what is allowed instead. Being a ``RunError``, Pulumi prints it without a traceback.
    """


@dataclass(frozen=True)
class GeneratedKey:
    """A freshly generated service-account signing key pair.

    ``private_key_pem`` is PKCS#8 (what ``--service-account-signing-key-file`` reads),
    ``public_key_pem`` is SubjectPublicKeyInfo (``--service-account-key-file``) and ``jwk``
    is the matching JWKS entry.
    """

    private_key_pem: str
    public_key_pem: str
    jwk: dict[str, str]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on anything else."""
    if not _BASE64URL.fullmatch(value):
        msg = "is not unpadded base64url"
        raise ValueError(msg)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:
        msg = "is not unpadded base64url"
        raise ValueError(msg) from exc


def _int_to_b64url(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64url(value.to_bytes(size, "big"))


def kubernetes_key_id(public_key: PublicKeyTypes) -> str:
    """Return the ``kid`` Kubernetes gives ``public_key``.

    Kubernetes takes the SHA-256 of the key's DER SubjectPublicKeyInfo encoding and writes it
    as unpadded base64url; using the same computation keeps our JWKS identical to the one the
    API server serves at ``/openid/v1/jwks``.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return _b64url(digest.finalize())


def _describe_key(public_key: PublicKeyTypes) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"an RSA key of {public_key.key_size} bits"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"an EC key on curve {public_key.curve.name}"
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return f"an {type(public_key).__name__.removesuffix('PublicKey')} key"
    if isinstance(public_key, dsa.DSAPublicKey):
        return "a DSA key"
    return f"a key of type {type(public_key).__name__}"


def jwk_from_public_key(public_key: PublicKeyTypes, *, source: str) -> dict[str, str]:
    """Build the JWKS entry for ``public_key`` the way the Kubernetes API server does.

    RSA keys of at least 2048 bits become ``kty: RSA, alg: RS256`` with ``n`` and ``e``; EC
    P-256 keys become ``kty: EC, alg: ES256, crv: P-256`` with 32-byte ``x`` and ``y``. Every
    entry has ``use: sig`` and the Kubernetes ``kid``. Any other key raises
    :class:`KeyMaterialError` naming ``source``.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            msg = (
                f"{source}: holds an RSA key of {public_key.key_size} bits, too short to sign "
                f"service-account tokens; allowed: {_ALLOWED_KEYS}"
            )
            raise KeyMaterialError(msg)
        numbers = public_key.public_numbers()
        return {
            "alg": "RS256",
            "e": _int_to_b64url(numbers.e),
            "kid": kubernetes_key_id(public_key),
            "kty": "RSA",
            "n": _int_to_b64url(numbers.n),
            "use": "sig",
        }
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        point = public_key.public_numbers()
        return {
            "alg": "ES256",
            "crv": "P-256",
            "kid": kubernetes_key_id(public_key),
            "kty": "EC",
            "use": "sig",
            # RFC 7518 fixes the coordinate length to the curve size, leading zeros included.
            "x": _int_to_b64url(point.x, _P256_COORDINATE_BYTES),
            "y": _int_to_b64url(point.y, _P256_COORDINATE_BYTES),
        }
    msg = f"{source}: holds {_describe_key(public_key)}; allowed: {_ALLOWED_KEYS}"
    raise KeyMaterialError(msg)


def load_public_keys_pem(data: bytes, *, source: str) -> list[PublicKeyTypes]:
    """Return every public key in the PEM text ``data`` (never empty).

    Accepted blocks: ``PUBLIC KEY`` (SubjectPublicKeyInfo), ``RSA PUBLIC KEY`` (PKCS#1) and
    ``CERTIFICATE`` (its public key is taken). Several concatenated blocks are allowed, as in
    a ``--service-account-key-file`` during a key rotation. A private key anywhere in the
    file, a block that does not parse, another block type or no block at all raises
    :class:`KeyMaterialError` naming ``source``.
    """
    blocks = [(m.group(1).decode("ascii"), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    # Refuse private material before anything else: the file is about to be published.
    if any("PRIVATE KEY" in label for label, _ in blocks) or (
        not blocks and b"PRIVATE KEY-----" in data
    ):
        msg = (
            f"{source}: holds a private key where a public one is expected; give the public "
            "half only (openssl pkey -in <private key> -pubout)"
        )
        raise KeyMaterialError(msg)
    if not blocks:
        msg = (
            f"{source}: no PEM block found; expected one or more PEM blocks of type "
            f"{', '.join(_PUBLIC_PEM_LABELS)} (convert DER with "
            "openssl pkey -pubin -inform DER -outform PEM)"
        )
        raise KeyMaterialError(msg)
    keys: list[PublicKeyTypes] = []
    for index, (label, block) in enumerate(blocks, start=1):
        where = f"{source}: PEM block {index} ({label})"
        if label not in _PUBLIC_PEM_LABELS:
            msg = f"{where} is not a public key; allowed: {', '.join(_PUBLIC_PEM_LABELS)}"
            raise KeyMaterialError(msg)
        try:
            if label == "CERTIFICATE":
                keys.append(x509.load_pem_x509_certificate(block).public_key())
            else:
                keys.append(serialization.load_pem_public_key(block))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            msg = f"{where} does not parse ({exc}); give an unmodified PEM {label}"
            raise KeyMaterialError(msg) from exc
    return keys


def _read_file(path: Path, *, base_dir: Path, what: str) -> bytes:
    full = path if path.is_absolute() else base_dir / path
    try:
        return full.read_bytes()
    except FileNotFoundError as exc:
        msg = f"{path}: file not found (looked for {full}); give the path of {what}"
        raise KeyMaterialError(msg) from exc
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror or exc}); give a readable file of {what}"
        raise KeyMaterialError(msg) from exc


def jwks_from_public_key_files(paths: Sequence[Path], *, base_dir: Path) -> dict[str, Any]:
    """Build ``{"keys": [...]}`` from PEM public key files, sorted by ``kid``.

    Relative paths are read from ``base_dir`` but error messages name them as given. Each
    file may hold several keys. A missing file, a refused key (see
    :func:`load_public_keys_pem` and :func:`jwk_from_public_key`) or the same key given twice
    raises :class:`KeyMaterialError`.
    """
    if not paths:
        msg = "public key files: none given; list at least one PEM public key file"
        raise KeyMaterialError(msg)
    by_kid: dict[str, tuple[str, dict[str, str]]] = {}
    for path in paths:
        source = str(path)
        data = _read_file(path, base_dir=base_dir, what="a PEM public key")
        for public_key in load_public_keys_pem(data, source=source):
            jwk = jwk_from_public_key(public_key, source=source)
            if jwk["kid"] in by_kid:
                first = by_kid[jwk["kid"]][0]
                msg = (
                    f"{source}: key {jwk['kid']} is already given by {first}; "
                    "list each public key once"
                )
                raise KeyMaterialError(msg)
            by_kid[jwk["kid"]] = (source, jwk)
    return {"keys": [by_kid[kid][1] for kid in sorted(by_kid)]}


def _check_rsa(key: Mapping[str, Any], where: str, problems: list[str]) -> None:
    try:
        n = int.from_bytes(_b64url_decode(key["n"]), "big")
        e = int.from_bytes(_b64url_decode(key["e"]), "big")
    except ValueError as exc:
        problems.append(f"{where}: n or e {exc}")
        return
    if n.bit_length() < MIN_RSA_BITS:
        problems.append(
            f"{where}: RSA modulus has {n.bit_length()} bits; at least {MIN_RSA_BITS} required"
        )
        return
    try:
        rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        problems.append(f"{where}: not a valid RSA public key ({exc})")


def _check_ec(key: Mapping[str, Any], where: str, problems: list[str]) -> None:
    if key["crv"] != "P-256":
        problems.append(f"{where}: crv {key['crv']!r} is not allowed; only P-256 (ES256)")
        return
    try:
        x = _b64url_decode(key["x"])
        y = _b64url_decode(key["y"])
    except ValueError as exc:
        problems.append(f"{where}: x or y {exc}")
        return
    if len(x) != _P256_COORDINATE_BYTES or len(y) != _P256_COORDINATE_BYTES:
        problems.append(f"{where}: x and y must each be {_P256_COORDINATE_BYTES} bytes for P-256")
        return
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    )
    try:
        numbers.public_key()
    except ValueError:
        problems.append(f"{where}: x, y is not a point on curve P-256")


def _check_key(key: object, where: str, problems: list[str]) -> dict[str, str] | None:
    """Append what is wrong with one JWK to ``problems``; return its normalized copy."""
    if not isinstance(key, dict):
        problems.append(f"{where}: must be a JSON object, got {type(key).__name__}")
        return None
    before = len(problems)
    private = [member for member in _PRIVATE_MEMBERS if member in key]
    if private:
        problems.append(
            f"{where}: holds private member(s) {', '.join(private)}; a JWKS must carry "
            "public keys only"
        )
    kty = key.get("kty")
    if not isinstance(kty, str) or kty not in _PUBLIC_MEMBERS:
        problems.append(f"{where}: kty {kty!r} is not allowed; allowed: RSA, EC (P-256)")
        return None
    for member in ("kid", *_PUBLIC_MEMBERS[kty]):
        value = key.get(member)
        if not isinstance(value, str) or not value:
            problems.append(f"{where}: {member} is missing or not a non-empty string")
    if "use" in key and key["use"] != "sig":
        problems.append(f"{where}: use {key['use']!r} is not allowed; only 'sig'")
    alg = key.get("alg", _ALG_FOR_KTY[kty])
    if alg != _ALG_FOR_KTY[kty]:
        problems.append(f"{where}: alg {alg!r} does not fit kty {kty}; use {_ALG_FOR_KTY[kty]}")
    if len(problems) > before:
        return None
    (_check_rsa if kty == "RSA" else _check_ec)(key, where, problems)
    if len(problems) > before:
        return None
    normalized = {"kty": kty, "use": "sig", "kid": key["kid"], "alg": alg}
    normalized.update({member: key[member] for member in _PUBLIC_MEMBERS[kty]})
    return normalized


def validate_jwks(document: object, *, source: str) -> dict[str, Any]:
    """Check a parsed JWKS document and return its normalized copy.

    Requires an object whose ``keys`` is a non-empty list of RSA (>= 2048 bits, RS256) or EC
    P-256 (ES256) keys, each with its public members and a unique non-empty ``kid``, no
    private member, ``use`` (if present) ``sig`` and ``alg`` (if present) matching ``kty``.
    The copy keeps only kty/use/kid/alg/n/e/crv/x/y, fills in ``alg`` and ``use: sig`` when
    absent (as the API server writes them) and sorts keys by ``kid``. Every problem found is
    listed in one :class:`KeyMaterialError` naming ``source``.
    """
    if not isinstance(document, dict) or "keys" not in document:
        msg = f'{source}: not a JWKS; expected a JSON object with a "keys" list'
        raise KeyMaterialError(msg)
    keys = document["keys"]
    if not isinstance(keys, list) or not keys:
        msg = f'{source}: "keys" must be a non-empty list of public keys'
        raise KeyMaterialError(msg)
    problems: list[str] = []
    normalized: dict[str, dict[str, str]] = {}
    first_seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        where = f"keys[{index}]"
        checked = _check_key(key, where, problems)
        if checked is None:
            continue
        kid = checked["kid"]
        if kid in first_seen:
            problems.append(
                f"{where}: kid {kid!r} repeats keys[{first_seen[kid]}]; kids must be unique"
            )
            continue
        first_seen[kid] = index
        normalized[kid] = checked
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        msg = (
            f"{source}: invalid JWKS ({len(problems)} problem(s)); allowed: {_ALLOWED_KEYS}, "
            f"public members only:\n{listing}"
        )
        raise KeyMaterialError(msg)
    return {"keys": [normalized[kid] for kid in sorted(normalized)]}


def load_jwks_file(path: Path, *, base_dir: Path) -> dict[str, Any]:
    """Read a JWKS JSON file (relative paths from ``base_dir``) and :func:`validate_jwks` it."""
    data = _read_file(path, base_dir=base_dir, what="a JWKS JSON document")
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        msg = (
            f"{path}: not UTF-8 text; give a JWKS JSON document (kubectl get --raw /openid/v1/jwks)"
        )
        raise KeyMaterialError(msg) from exc
    except json.JSONDecodeError as exc:
        msg = (
            f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); give a "
            "JWKS JSON document (kubectl get --raw /openid/v1/jwks)"
        )
        raise KeyMaterialError(msg) from exc
    return validate_jwks(document, source=str(path))


def canonical_json(document: object) -> str:
    """Serialize ``document`` deterministically (sorted keys, no spaces).

    This is the form uploaded to buckets and to GCP's ``jwksJson``, so repeated runs produce
    byte-identical content and Pulumi sees no spurious diff.
    """
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def signing_algorithms(jwks: Mapping[str, Any]) -> list[str]:
    """Return the sorted, unique signing algorithms of the keys in ``jwks``.

    A key without ``alg`` counts as the algorithm its ``kty`` implies (RS256 or ES256).
    """
    algs = {
        str(key.get("alg") or _ALG_FOR_KTY.get(str(key.get("kty")), "")) for key in jwks["keys"]
    }
    algs.discard("")
    return sorted(algs)


def discovery_document(issuer: str, jwks_uri: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Return the OIDC discovery document served at ``<issuer>/.well-known/openid-configuration``.

    The members are the ones the Kubernetes API server publishes; verifiers compare
    ``issuer`` byte for byte with the token's ``iss``.
    """
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing_algorithms(jwks),
    }


def jwks_uri_for(issuer: str) -> str:
    """Return ``<issuer>/openid/v1/jwks``, the path Kubernetes uses for the JWKS.

    Raises ValueError if ``issuer`` ends with a slash: a trailing slash makes a different
    issuer, and joining would produce ``//openid``.
    """
    if issuer.endswith("/"):
        msg = f"issuer {issuer!r} ends with '/'; give it without the trailing slash"
        raise ValueError(msg)
    return f"{issuer}/openid/v1/jwks"


_KEY_GENERATORS: dict[str, Callable[[], rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]] = {
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
}


def generate_signing_key(algorithm: Literal["RS256", "ES256"] = "RS256") -> GeneratedKey:
    """Generate a new service-account signing key (RSA 2048 for RS256, P-256 for ES256)."""
    generate = _KEY_GENERATORS.get(algorithm)
    if generate is None:
        msg = f"algorithm {algorithm!r} is not supported; use RS256 or ES256"
        raise ValueError(msg)
    private_key = generate()
    public_key = private_key.public_key()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return GeneratedKey(
        private_key_pem=private_pem.decode("ascii"),
        public_key_pem=public_pem.decode("ascii"),
        jwk=jwk_from_public_key(public_key, source="generated key"),
    )


def _check_issuers(issuer: str, previous_issuers: Sequence[str]) -> None:
    seen = {issuer}
    for previous in previous_issuers:
        if previous in seen:
            msg = f"issuer {previous!r} is listed twice; list each issuer once, new one first"
            raise ValueError(msg)
        seen.add(previous)


def api_server_flags(issuer: str, previous_issuers: Sequence[str], jwks_uri: str) -> list[str]:
    """Return the kube-apiserver flags that publish ``issuer`` and keep old issuers valid.

    The API server signs with the first ``--service-account-issuer`` and accepts all of them,
    so the new issuer comes first and the previous ones follow until every token they signed
    has expired. Raises ValueError if an issuer is repeated.
    """
    _check_issuers(issuer, previous_issuers)
    flags = [f"--service-account-issuer={value}" for value in (issuer, *previous_issuers)]
    flags.append(f"--service-account-jwks-uri={jwks_uri}")
    return flags


class _BlockStyleDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (the embedded patches) as ``|`` blocks.

    It also never writes anchors and aliases, so a reused mapping (the key volume) is spelled
    out where each reader expects it.
    """

    def ignore_aliases(self, _data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def _dump_yaml(document: object) -> str:
    return yaml.dump(document, Dumper=_BlockStyleDumper, sort_keys=False, width=1000)


_KUBEADM_GROUP = "kubeadm.k8s.io"


def kind_cluster_config(
    *,
    issuer: str,
    jwks_uri: str,
    previous_issuers: Sequence[str],
    key_dir: str = "/etc/kubernetes/fluxtrust",
) -> str:
    """Return the YAML of a one-node kind ``Cluster`` whose API server uses our issuer and key.

    The control-plane node mounts the host directory ``./fluxtrust-keys`` (a placeholder,
    resolved by kind from the directory it runs in; it must hold ``sa.key``, the PKCS#8
    private key, and ``sa.pub``, one or more public keys) at ``key_dir``, and kubeadm passes
    the issuer, JWKS URI and key files to kube-apiserver (and the same private key to
    kube-controller-manager).

    kind renders kubeadm ``v1beta3`` for Kubernetes up to 1.35 and ``v1beta4`` from 1.36, and
    only patches whose apiVersion matches are applied, so a patch is emitted for each.
    ``v1beta3`` extraArgs is a map and cannot repeat ``service-account-issuer``: those clusters
    get the new issuer only (previous issuers are noted in the header comment). ``v1beta4``
    gets every issuer, new one first.
    """
    _check_issuers(issuer, previous_issuers)
    signing_key = f"{key_dir}/sa.key"
    public_keys = f"{key_dir}/sa.pub"
    volume = {
        "name": "fluxtrust-keys",
        "hostPath": key_dir,
        "mountPath": key_dir,
        "readOnly": True,
        "pathType": "Directory",
    }
    apiserver_args = {
        "service-account-issuer": issuer,
        "service-account-jwks-uri": jwks_uri,
        "service-account-signing-key-file": signing_key,
        "service-account-key-file": public_keys,
    }
    # The controller-manager signs legacy token Secrets with its own key; point it at the
    # same key so those tokens stay valid once kubeadm's sa.pub is no longer trusted.
    manager_args = {"service-account-private-key-file": signing_key}

    def cluster_patch(version: str, args: object, manager: object) -> str:
        return _dump_yaml(
            {
                "apiVersion": f"{_KUBEADM_GROUP}/{version}",
                "kind": "ClusterConfiguration",
                "apiServer": {"extraArgs": args, "extraVolumes": [volume]},
                "controllerManager": {"extraArgs": manager, "extraVolumes": [volume]},
            }
        )

    def as_list(args: Mapping[str, str]) -> list[dict[str, str]]:
        return [{"name": name, "value": value} for name, value in args.items()]

    config: dict[str, object] = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [
            {
                "role": "control-plane",
                "extraMounts": [
                    {"hostPath": "./fluxtrust-keys", "containerPath": key_dir, "readOnly": True}
                ],
            }
        ],
        "kubeadmConfigPatches": [
            cluster_patch("v1beta3", apiserver_args, manager_args),
            cluster_patch("v1beta4", as_list(apiserver_args), as_list(manager_args)),
        ],
    }
    if previous_issuers:
        # kind merges v1beta4 extraArgs by name, so repeating the name in the merge patch
        # would keep only the last value; JSON 6902 "add" appends after the new issuer.
        operations = [
            {
                "op": "add",
                "path": "/apiServer/extraArgs/-",
                "value": {"name": "service-account-issuer", "value": previous},
            }
            for previous in previous_issuers
        ]
        config["kubeadmConfigPatchesJSON6902"] = [
            {
                "group": _KUBEADM_GROUP,
                "version": "v1beta4",
                "kind": "ClusterConfiguration",
                "patch": _dump_yaml(operations),
            }
        ]
    return _kind_header(previous_issuers) + _dump_yaml(config)


def _kind_header(previous_issuers: Sequence[str]) -> str:
    lines = [
        "Generated by fluxtrust. Before `kind create cluster --config <this file>`:",
        "- put sa.key (PKCS#8 private key) and sa.pub (public key or keys) in ./fluxtrust-keys,",
        "  a path kind resolves from the directory it runs in (an absolute path is safer);",
        "- publish the discovery document and JWKS at the issuer first.",
    ]
    if previous_issuers:
        lines += [
            "Previous issuers, accepted after the new one (which signs):",
            *(f"  {previous}" for previous in previous_issuers),
            "Only kubeadm v1beta4 (kind with Kubernetes 1.36 or later) can repeat",
            "--service-account-issuer; with v1beta3 (Kubernetes 1.35 and older) extraArgs is a",
            "map, so those clusters get the new issuer only and reject tokens of the previous",
            "ones. kubeadm before the fix for kubernetes/kubeadm#3261 sorted repeated flags",
            "by value: check the order in /etc/kubernetes/manifests/kube-apiserver.yaml.",
        ]
    return "".join(f"# {line}\n" for line in lines)
