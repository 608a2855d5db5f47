"""Tests for fluxtrust.jwks: keys, JWKS documents, discovery documents and kind config."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import NameOID
from fluxtrust.jwks import (
    KeyMaterialError,
    api_server_flags,
    canonical_json,
    discovery_document,
    generate_signing_key,
    jwk_from_public_key,
    jwks_from_public_key_files,
    jwks_uri_for,
    kind_cluster_config,
    kubernetes_key_id,
    load_jwks_file,
    load_public_keys_pem,
    signing_algorithms,
    validate_jwks,
)

ISSUER = "https://example.test/clusters/ci"
OLD_ISSUER = "https://kubernetes.default.svc.cluster.local"
OLDER_ISSUER = "https://old.example.test"


# ---------------------------------------------------------------- helpers and fixtures


def independent_kid(public_key: PublicKeyTypes) -> str:
    """Kubernetes' kid, computed here with hashlib rather than the code under test."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def spki_pem(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: PrivateKeyTypes, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def self_signed_cert_pem(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sa-signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key_2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ec_key_short_x() -> ec.EllipticCurvePrivateKey:
    """A P-256 key whose x coordinate has a leading zero byte (about 1 key in 256)."""
    for _ in range(20_000):
        key = ec.generate_private_key(ec.SECP256R1())
        if key.public_key().public_numbers().x < 1 << 248:
            return key
    raise AssertionError("no P-256 key with a short x coordinate found")


@pytest.fixture(scope="module")
def rsa_jwk(rsa_key: rsa.RSAPrivateKey) -> dict[str, str]:
    return jwk_from_public_key(rsa_key.public_key(), source="rsa")


@pytest.fixture(scope="module")
def ec_jwk(ec_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    return jwk_from_public_key(ec_key.public_key(), source="ec")


@pytest.fixture
def key_dir(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "rsa.pub").write_bytes(spki_pem(rsa_key.public_key()))
    (keys / "ec.pub").write_bytes(spki_pem(ec_key.public_key()))
    return tmp_path


# ---------------------------------------------------------------- key ids and JWKs


def test_kid_matches_independent_computation_for_rsa(rsa_key: rsa.RSAPrivateKey) -> None:
    """The RSA kid is base64url(SHA-256(DER SPKI)) without padding, as Kubernetes computes it."""
    public_key = rsa_key.public_key()

    kid = kubernetes_key_id(public_key)

    assert kid == independent_kid(public_key)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", kid)


def test_kid_matches_independent_computation_for_ec(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """The EC kid is computed the same way as the RSA one."""
    public_key = ec_key.public_key()

    kid = kubernetes_key_id(public_key)

    assert kid == independent_kid(public_key)


def test_rsa_jwk_members(rsa_key: rsa.RSAPrivateKey) -> None:
    """An RSA 2048 key becomes an RS256 signing JWK whose n and e decode to the key."""
    public_key = rsa_key.public_key()

    jwk = jwk_from_public_key(public_key, source="k.pub")

    assert set(jwk) == {"kty", "alg", "use", "kid", "n", "e"}
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["e"]) == ("RSA", "RS256", "sig", "AQAB")
    assert b64url_int(jwk["n"]) == public_key.public_numbers().n
    assert jwk["kid"] == independent_kid(public_key)


def test_ec_jwk_members(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """A P-256 key becomes an ES256 signing JWK with its coordinates."""
    public_key = ec_key.public_key()

    jwk = jwk_from_public_key(public_key, source="k.pub")

    assert set(jwk) == {"kty", "alg", "use", "kid", "crv", "x", "y"}
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["crv"]) == ("EC", "ES256", "sig", "P-256")
    assert b64url_int(jwk["x"]) == public_key.public_numbers().x
    assert b64url_int(jwk["y"]) == public_key.public_numbers().y


def test_ec_coordinates_keep_leading_zero(ec_key_short_x: ec.EllipticCurvePrivateKey) -> None:
    """EC coordinates are always 32 bytes, even when the number is shorter."""
    public_key = ec_key_short_x.public_key()

    jwk = jwk_from_public_key(public_key, source="k.pub")

    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    assert len(base64.urlsafe_b64decode(jwk["y"] + "=")) == 32


def test_rsa_1024_refused(rsa_1024: rsa.RSAPrivateKey) -> None:
    """An RSA key shorter than 2048 bits is refused, naming the source and the size."""
    public_key = rsa_1024.public_key()

    with pytest.raises(KeyMaterialError, match=r"^keys/short\.pub: .*1024 bits.*2048"):
        jwk_from_public_key(public_key, source="keys/short.pub")


def test_p384_refused() -> None:
    """An EC key on another curve than P-256 is refused."""
    public_key = ec.generate_private_key(ec.SECP384R1()).public_key()

    with pytest.raises(KeyMaterialError, match=r"^p384\.pub: .*secp384r1.*P-256"):
        jwk_from_public_key(public_key, source="p384.pub")


def test_ed25519_refused() -> None:
    """An Ed25519 key is refused: Kubernetes signs with RS256 or ES256 only."""
    public_key = ed25519.Ed25519PrivateKey.generate().public_key()

    with pytest.raises(KeyMaterialError, match=r"^ed\.pub: holds an Ed25519 key; allowed: RSA"):
        jwk_from_public_key(public_key, source="ed.pub")


def test_dsa_refused() -> None:
    """A DSA key is refused."""
    public_key = dsa.generate_private_key(1024).public_key()

    with pytest.raises(KeyMaterialError, match=r"^dsa\.pub: holds a DSA key; allowed: RSA"):
        jwk_from_public_key(public_key, source="dsa.pub")


# ---------------------------------------------------------------- PEM loading


def test_load_spki_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    """A PEM PUBLIC KEY (SubjectPublicKeyInfo) loads."""
    data = spki_pem(rsa_key.public_key())

    keys = load_public_keys_pem(data, source="k.pub")

    assert [kubernetes_key_id(k) for k in keys] == [independent_kid(rsa_key.public_key())]


def test_load_pkcs1_rsa_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """A PEM RSA PUBLIC KEY (PKCS#1) loads."""
    data = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )

    keys = load_public_keys_pem(data, source="k.pub")

    assert b"BEGIN RSA PUBLIC KEY" in data
    assert [kubernetes_key_id(k) for k in keys] == [independent_kid(rsa_key.public_key())]


def test_load_certificate_takes_its_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    """A PEM CERTIFICATE is accepted and its public key is used."""
    data = self_signed_cert_pem(rsa_key)

    keys = load_public_keys_pem(data, source="sa.crt")

    assert [kubernetes_key_id(k) for k in keys] == [independent_kid(rsa_key.public_key())]


def test_load_several_concatenated_keys(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """A file holding several PEM blocks yields all its keys, in file order."""
    data = spki_pem(rsa_key.public_key()) + b"\n" + spki_pem(ec_key.public_key())

    keys = load_public_keys_pem(data, source="sa.pub")

    assert [kubernetes_key_id(k) for k in keys] == [
        independent_kid(rsa_key.public_key()),
        independent_kid(ec_key.public_key()),
    ]


@pytest.mark.parametrize(
    "fmt",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
    ids=["pkcs8", "traditional"],
)
def test_private_key_pem_refused(
    rsa_key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat
) -> None:
    """A PEM private key is refused with a hint to give the public half."""
    data = private_pem(rsa_key, fmt)

    with pytest.raises(KeyMaterialError, match=r"^keys/ci-kind\.pub: holds a private key.*-pubout"):
        load_public_keys_pem(data, source="keys/ci-kind.pub")


def test_private_key_after_public_key_refused(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """A private key is refused even when a public key comes first in the file."""
    data = spki_pem(rsa_key.public_key()) + private_pem(
        ec_key, serialization.PrivateFormat.TraditionalOpenSSL
    )

    with pytest.raises(KeyMaterialError, match=r"^both\.pem: holds a private key"):
        load_public_keys_pem(data, source="both.pem")


def test_garbage_pem_refused() -> None:
    """A PUBLIC KEY block whose content is not a key is refused as unparseable."""
    data = b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PUBLIC KEY-----\n"

    with pytest.raises(KeyMaterialError, match=r"^bad\.pub: PEM block 1 \(PUBLIC KEY\) does not"):
        load_public_keys_pem(data, source="bad.pub")


def test_text_without_pem_refused() -> None:
    """Text without any PEM block (e.g. an OpenSSH key) is refused, listing what is allowed."""
    data = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG user@host\n"

    with pytest.raises(KeyMaterialError, match=r"^id\.pub: no PEM block found.*PUBLIC KEY"):
        load_public_keys_pem(data, source="id.pub")


def test_other_pem_block_refused() -> None:
    """A PEM block of another type (here EC PARAMETERS) is refused."""
    data = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

    with pytest.raises(KeyMaterialError, match=r"^p\.pem: PEM block 1 \(EC PARAMETERS\) is not"):
        load_public_keys_pem(data, source="p.pem")


# ---------------------------------------------------------------- JWKS from files


def test_jwks_from_files_sorted_by_kid(
    key_dir: Path, rsa_jwk: dict[str, str], ec_jwk: dict[str, str]
) -> None:
    """Files relative to base_dir give one JWK per key, sorted by kid."""
    paths = [Path("keys/rsa.pub"), Path("keys/ec.pub")]

    jwks = jwks_from_public_key_files(paths, base_dir=key_dir)

    assert jwks == {"keys": sorted([rsa_jwk, ec_jwk], key=lambda k: k["kid"])}


def test_jwks_from_files_missing_file_named(key_dir: Path) -> None:
    """A missing file is named as given, with where it was looked for."""
    paths = [Path("keys/rsa.pub"), Path("keys/gone.pub")]

    with pytest.raises(KeyMaterialError, match=r"^keys/gone\.pub: file not found"):
        jwks_from_public_key_files(paths, base_dir=key_dir)


def test_jwks_from_files_duplicate_key_refused(key_dir: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """The same key given twice (here as a key and as a certificate) is refused."""
    (key_dir / "keys" / "rsa.crt").write_bytes(self_signed_cert_pem(rsa_key))
    paths = [Path("keys/rsa.pub"), Path("keys/rsa.crt")]

    with pytest.raises(
        KeyMaterialError, match=r"^keys/rsa\.crt: key .* already given by keys/rsa\.pub"
    ):
        jwks_from_public_key_files(paths, base_dir=key_dir)


def test_jwks_from_files_private_key_file_refused(
    key_dir: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    """A key file holding a private key is refused, naming the file."""
    (key_dir / "keys" / "ci-kind.pub").write_bytes(
        private_pem(ec_key, serialization.PrivateFormat.PKCS8)
    )

    with pytest.raises(KeyMaterialError, match=r"^keys/ci-kind\.pub: holds a private key"):
        jwks_from_public_key_files([Path("keys/ci-kind.pub")], base_dir=key_dir)


def test_jwks_from_no_files_refused(tmp_path: Path) -> None:
    """An empty list of key files is refused: a JWKS needs at least one key."""
    paths: list[Path] = []

    with pytest.raises(KeyMaterialError, match="none given"):
        jwks_from_public_key_files(paths, base_dir=tmp_path)


# ---------------------------------------------------------------- JWKS validation


def test_validate_jwks_normalizes(rsa_jwk: dict[str, str], ec_jwk: dict[str, str]) -> None:
    """Extra members are dropped, alg and use filled in, keys sorted by kid."""
    bare_rsa = {k: v for k, v in rsa_jwk.items() if k not in ("alg", "use")}
    document = {"keys": [{**ec_jwk, "x5t": "abc", "key_ops": ["verify"]}, bare_rsa], "extra": 1}

    normalized = validate_jwks(document, source="jwks.json")

    assert normalized == {"keys": sorted([rsa_jwk, ec_jwk], key=lambda k: k["kid"])}


def test_validate_jwks_roundtrip_is_stable(rsa_jwk: dict[str, str], ec_jwk: dict[str, str]) -> None:
    """Validating an already normalized JWKS returns the same canonical JSON."""
    document = validate_jwks({"keys": [rsa_jwk, ec_jwk]}, source="a")

    again = validate_jwks(json.loads(canonical_json(document)), source="b")

    assert canonical_json(again) == canonical_json(document)


def test_validate_jwks_private_member_refused(rsa_jwk: dict[str, str]) -> None:
    """A JWK carrying the private exponent d is refused."""
    document = {"keys": [{**rsa_jwk, "d": "AQAB"}]}

    with pytest.raises(
        KeyMaterialError, match=r"(?s)^jwks\.json: .*keys\[0\]: holds private member\(s\) d"
    ):
        validate_jwks(document, source="jwks.json")


def test_validate_jwks_duplicate_kid_refused(rsa_jwk: dict[str, str]) -> None:
    """Two keys with the same kid are refused, naming the second one."""
    document = {"keys": [rsa_jwk, dict(rsa_jwk)]}

    with pytest.raises(KeyMaterialError, match=r"keys\[1\]: kid .* repeats keys\[0\]"):
        validate_jwks(document, source="jwks.json")


def test_validate_jwks_lists_every_problem(rsa_jwk: dict[str, str], ec_jwk: dict[str, str]) -> None:
    """All problems come in one error, each with its key index."""
    document = {
        "keys": [
            {**rsa_jwk, "alg": "PS256"},
            {**ec_jwk, "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "s"},
            {"kty": ["RSA"], "kid": "l"},
        ]
    }

    with pytest.raises(KeyMaterialError) as caught:
        validate_jwks(document, source="jwks.json")

    message = str(caught.value)
    assert "keys[0]: alg 'PS256' does not fit kty RSA; use RS256" in message
    assert "keys[1]: use 'enc' is not allowed" in message
    assert "keys[2]: holds private member(s) k" in message
    assert "keys[2]: kty 'oct' is not allowed" in message
    assert "keys[3]: kty ['RSA'] is not allowed" in message


def test_validate_jwks_short_rsa_modulus_refused(rsa_1024: rsa.RSAPrivateKey) -> None:
    """An RSA JWK whose n has fewer than 2048 bits is refused."""
    numbers = rsa_1024.public_key().public_numbers()
    n = base64.urlsafe_b64encode(numbers.n.to_bytes(128, "big")).rstrip(b"=").decode()
    document = {"keys": [{"kty": "RSA", "kid": "short", "n": n, "e": "AQAB"}]}

    with pytest.raises(KeyMaterialError, match=r"keys\[0\]: RSA modulus has 1024 bits"):
        validate_jwks(document, source="jwks.json")


def test_validate_jwks_other_curve_refused(ec_jwk: dict[str, str]) -> None:
    """An EC JWK on another curve than P-256 is refused."""
    document = {"keys": [{**ec_jwk, "crv": "P-384", "alg": "ES384"}]}

    with pytest.raises(KeyMaterialError, match=r"keys\[0\]: alg 'ES384' does not fit kty EC"):
        validate_jwks(document, source="jwks.json")


def test_validate_jwks_point_off_curve_refused(ec_jwk: dict[str, str]) -> None:
    """EC coordinates that are not a point on P-256 are refused."""
    document = {"keys": [{**ec_jwk, "y": ec_jwk["x"]}]}

    with pytest.raises(KeyMaterialError, match=r"keys\[0\]: x, y is not a point on curve P-256"):
        validate_jwks(document, source="jwks.json")


def test_validate_jwks_missing_members_refused() -> None:
    """A JWK without kid or n is refused, naming each missing member."""
    document = {"keys": [{"kty": "RSA", "e": "AQAB"}]}

    with pytest.raises(
        KeyMaterialError, match=r"(?s)keys\[0\]: kid is missing.*keys\[0\]: n is missing"
    ):
        validate_jwks(document, source="jwks.json")


def test_validate_jwks_padded_base64_refused(rsa_jwk: dict[str, str]) -> None:
    """Base64url values must be unpadded, as RFC 7518 requires."""
    document = {"keys": [{**rsa_jwk, "e": "AQAB=="}]}

    with pytest.raises(KeyMaterialError, match=r"keys\[0\]: n or e is not unpadded base64url"):
        validate_jwks(document, source="jwks.json")


@pytest.mark.parametrize("document", [[], {"kid": "x"}, {"keys": []}, {"keys": {}}, "keys"])
def test_validate_jwks_wrong_shape_refused(document: object) -> None:
    """Anything but an object with a non-empty keys list is refused."""
    source = "cluster"

    with pytest.raises(KeyMaterialError, match=r"^cluster: .*keys"):
        validate_jwks(document, source=source)


def test_load_jwks_file_reads_and_validates(tmp_path: Path, rsa_jwk: dict[str, str]) -> None:
    """A JWKS file is read relative to base_dir and normalized."""
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [rsa_jwk]}), encoding="utf-8")

    jwks = load_jwks_file(Path("jwks.json"), base_dir=tmp_path)

    assert jwks == {"keys": [rsa_jwk]}


def test_load_jwks_file_not_json_refused(tmp_path: Path) -> None:
    """A file that is not JSON is refused, naming the file and the position."""
    (tmp_path / "jwks.json").write_text("keys: []\n", encoding="utf-8")

    with pytest.raises(KeyMaterialError, match=r"^jwks\.json: not JSON \(.* line 1 column 1\)"):
        load_jwks_file(Path("jwks.json"), base_dir=tmp_path)


def test_load_jwks_file_missing_refused(tmp_path: Path) -> None:
    """A missing JWKS file is named."""
    path = Path("nope/jwks.json")

    with pytest.raises(KeyMaterialError, match=r"^nope/jwks\.json: file not found"):
        load_jwks_file(path, base_dir=tmp_path)


# ---------------------------------------------------------------- documents and flags


def test_canonical_json_is_compact_and_sorted() -> None:
    """canonical_json sorts keys at every level and has no whitespace."""
    document = {"b": [{"z": 1, "a": "x"}], "a": None}

    text = canonical_json(document)

    assert text == '{"a":null,"b":[{"a":"x","z":1}]}'


def test_signing_algorithms_sorted_unique(rsa_jwk: dict[str, str], ec_jwk: dict[str, str]) -> None:
    """Algorithms are listed once each, sorted; a key without alg counts by its kty."""
    bare_rsa = {k: v for k, v in rsa_jwk.items() if k != "alg"}
    jwks: dict[str, Any] = {"keys": [rsa_jwk, ec_jwk, bare_rsa]}

    algs = signing_algorithms(jwks)

    assert algs == ["ES256", "RS256"]


def test_discovery_document_exact(rsa_jwk: dict[str, str]) -> None:
    """The discovery document has exactly the members Kubernetes publishes."""
    jwks = {"keys": [rsa_jwk]}

    document = discovery_document(ISSUER, jwks_uri_for(ISSUER), jwks)

    assert document == {
        "issuer": "https://example.test/clusters/ci",
        "jwks_uri": "https://example.test/clusters/ci/openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def test_jwks_uri_for_refuses_trailing_slash() -> None:
    """An issuer with a trailing slash is refused: it is a different issuer."""
    issuer = ISSUER + "/"

    with pytest.raises(ValueError, match="trailing slash"):
        jwks_uri_for(issuer)


def test_api_server_flags_order() -> None:
    """The new issuer comes first (it signs), previous issuers follow, then the JWKS URI."""
    previous = [OLD_ISSUER, OLDER_ISSUER]

    flags = api_server_flags(ISSUER, previous, jwks_uri_for(ISSUER))

    assert flags == [
        "--service-account-issuer=https://example.test/clusters/ci",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-issuer=https://old.example.test",
        "--service-account-jwks-uri=https://example.test/clusters/ci/openid/v1/jwks",
    ]


def test_api_server_flags_repeated_issuer_refused() -> None:
    """Listing the new issuer again among the previous ones is refused."""
    previous = [OLD_ISSUER, ISSUER]

    with pytest.raises(ValueError, match="listed twice"):
        api_server_flags(ISSUER, previous, jwks_uri_for(ISSUER))


@pytest.mark.parametrize(("algorithm", "kty"), [("RS256", "RSA"), ("ES256", "EC")])
def test_generate_signing_key(algorithm: Any, kty: str) -> None:
    """A generated key pair is PKCS#8 + SPKI and its JWK matches the public key."""
    generated = generate_signing_key(algorithm)

    private_key = serialization.load_pem_private_key(generated.private_key_pem.encode(), None)
    public_key = serialization.load_pem_public_key(generated.public_key_pem.encode())
    assert generated.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert generated.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert spki_pem(private_key.public_key()) == spki_pem(public_key)
    assert generated.jwk["kid"] == independent_kid(public_key)
    assert (generated.jwk["kty"], generated.jwk["alg"]) == (kty, algorithm)


# ---------------------------------------------------------------- kind config


def parse_kind_config(text: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return the kind config and its v1beta3 and v1beta4 ClusterConfiguration patches."""
    config = yaml.safe_load(text)
    patches = {
        yaml.safe_load(p)["apiVersion"]: yaml.safe_load(p) for p in config["kubeadmConfigPatches"]
    }
    return config, patches["kubeadm.k8s.io/v1beta3"], patches["kubeadm.k8s.io/v1beta4"]


def v1beta4_flags(config: dict[str, Any], patch: dict[str, Any]) -> list[str]:
    """The kube-apiserver flags a v1beta4 cluster gets: merge patch args, then 6902 appends."""
    args = list(patch["apiServer"]["extraArgs"])
    for entry in config.get("kubeadmConfigPatchesJSON6902", []):
        for op in yaml.safe_load(entry["patch"]):
            assert (op["op"], op["path"]) == ("add", "/apiServer/extraArgs/-")
            args.append(op["value"])
    return [f"--{arg['name']}={arg['value']}" for arg in args]


def test_kind_config_structure() -> None:
    """The kind config is a one-node Cluster mounting the key directory."""
    text = kind_cluster_config(issuer=ISSUER, jwks_uri=jwks_uri_for(ISSUER), previous_issuers=[])

    config, v1beta3, _ = parse_kind_config(text)
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    [node] = config["nodes"]
    assert node["role"] == "control-plane"
    assert node["extraMounts"] == [
        {
            "hostPath": "./fluxtrust-keys",
            "containerPath": "/etc/kubernetes/fluxtrust",
            "readOnly": True,
        }
    ]
    assert v1beta3["apiServer"]["extraVolumes"][0]["mountPath"] == "/etc/kubernetes/fluxtrust"
    assert "kubeadmConfigPatchesJSON6902" not in config


def test_kind_config_v1beta3_args() -> None:
    """The v1beta3 patch (a map) sets the new issuer, JWKS URI and key files."""
    text = kind_cluster_config(
        issuer=ISSUER, jwks_uri=jwks_uri_for(ISSUER), previous_issuers=[OLD_ISSUER], key_dir="/k"
    )

    _, v1beta3, _ = parse_kind_config(text)
    assert v1beta3["kind"] == "ClusterConfiguration"
    assert v1beta3["apiServer"]["extraArgs"] == {
        "service-account-issuer": ISSUER,
        "service-account-jwks-uri": jwks_uri_for(ISSUER),
        "service-account-signing-key-file": "/k/sa.key",
        "service-account-key-file": "/k/sa.pub",
    }
    assert v1beta3["controllerManager"]["extraArgs"] == {
        "service-account-private-key-file": "/k/sa.key"
    }


def test_kind_config_v1beta4_has_every_flag_in_order() -> None:
    """A v1beta4 cluster gets exactly api_server_flags' issuers in order, plus the key files."""
    previous = [OLD_ISSUER, OLDER_ISSUER]
    jwks_uri = jwks_uri_for(ISSUER)
    text = kind_cluster_config(
        issuer=ISSUER, jwks_uri=jwks_uri, previous_issuers=previous, key_dir="/k"
    )

    config, _, v1beta4 = parse_kind_config(text)
    flags = v1beta4_flags(config, v1beta4)
    expected = api_server_flags(ISSUER, previous, jwks_uri)
    assert [f for f in flags if f.startswith("--service-account-issuer=")] == expected[:3]
    assert set(expected) <= set(flags)
    assert "--service-account-signing-key-file=/k/sa.key" in flags
    assert "--service-account-key-file=/k/sa.pub" in flags


def test_kind_config_header_notes_v1beta3_limit() -> None:
    """With previous issuers, a leading comment names them and the v1beta3 limitation."""
    text = kind_cluster_config(
        issuer=ISSUER, jwks_uri=jwks_uri_for(ISSUER), previous_issuers=[OLD_ISSUER]
    )

    header = text.split("kind: Cluster")[0]
    assert f"#   {OLD_ISSUER}" in header
    assert "v1beta3" in header
    assert all(line.startswith("#") for line in header.splitlines())
