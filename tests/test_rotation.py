"""Tests for key rotation: a JWKS given by file may not drop a key the live cluster still serves."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fluxtrust.config import ClusterConfig, parse_stack_config
from fluxtrust.errors import ConfigError
from fluxtrust.issuer import ClusterKeysError, resolve_cluster_keys
from fluxtrust.jwks import discovery_document, jwk_from_public_key
from tls_server import LocalServer

ISSUER = "https://acme-kind.s3.eu-west-1.amazonaws.com"


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    return jwk_from_public_key(key.public_key(), source="test")


@pytest.fixture(scope="module")
def old_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def project(
    tmp_path: Path, old_key: ec.EllipticCurvePrivateKey, new_key: ec.EllipticCurvePrivateKey
) -> Iterator[tuple[Path, LocalServer]]:
    """A project whose cluster serves both keys (mid-rotation), with a kubeconfig reaching it."""
    (tmp_path / "old.pub").write_bytes(_pem(old_key))
    (tmp_path / "new.pub").write_bytes(_pem(new_key))
    jwks = {"keys": [_jwk(old_key), _jwk(new_key)]}
    with LocalServer() as server:
        server.set_json(
            "/.well-known/openid-configuration",
            discovery_document(ISSUER, f"{ISSUER}/openid/v1/jwks", jwks),
        )
        server.set_json("/openid/v1/jwks", jwks)
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kind",
                    "cluster": {
                        "server": server.base_url,
                        "certificate-authority-data": base64.b64encode(server.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "kind", "context": {"cluster": "kind", "user": "u"}}],
            "current-context": "kind",
        }
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
        yield tmp_path, server


def _cluster(jwks: dict[str, Any]) -> ClusterConfig:
    raw = {
        "aws": {"region": "eu-west-1"},
        "clusters": [
            {
                "name": "kind",
                "type": "other",
                "issuer": {"host": {"cloud": "aws", "bucket": "acme-kind"}},
                "jwks": jwks,
            }
        ],
    }
    return parse_stack_config(raw).clusters[0]


class TestRotationGuard:
    def test_dropping_a_served_key_is_refused(self, project: tuple[Path, LocalServer]) -> None:
        """Publishing only the new key while the cluster still serves the old one is refused."""
        directory, _ = project
        cluster = _cluster(
            {"publicKeys": ["new.pub"], "checkCluster": {"kubeconfig": "kubeconfig"}}
        )

        with pytest.raises(
            ClusterKeysError,
            match=r"fluxtrust:clusters\[0\]\.jwks\.publicKeys: lacks 1 key\(s\) the cluster still",
        ):
            resolve_cluster_keys(cluster, project_dir=directory)

    def test_both_keys_during_rotation_pass(
        self,
        project: tuple[Path, LocalServer],
        old_key: ec.EllipticCurvePrivateKey,
        new_key: ec.EllipticCurvePrivateKey,
    ) -> None:
        """Publishing both keys, as a rotation should, passes and records the cluster's kids."""
        directory, _ = project
        cluster = _cluster(
            {"publicKeys": ["old.pub", "new.pub"], "checkCluster": {"kubeconfig": "kubeconfig"}}
        )

        keys = resolve_cluster_keys(cluster, project_dir=directory)

        assert keys is not None
        assert set(keys.kids) == {_jwk(old_key)["kid"], _jwk(new_key)["kid"]}
        assert set(keys.cluster_kids) == set(keys.kids)

    def test_forced_removal_passes(
        self, project: tuple[Path, LocalServer], new_key: ec.EllipticCurvePrivateKey
    ) -> None:
        """allowRemovingClusterKeys lets a user drop a key they know is no longer used."""
        directory, _ = project
        cluster = _cluster(
            {
                "publicKeys": ["new.pub"],
                "checkCluster": {"kubeconfig": "kubeconfig"},
                "allowRemovingClusterKeys": True,
            }
        )

        keys = resolve_cluster_keys(cluster, project_dir=directory)

        assert keys is not None
        assert keys.kids == (_jwk(new_key)["kid"],)

    def test_without_check_the_cluster_is_not_contacted(
        self, project: tuple[Path, LocalServer]
    ) -> None:
        """Without checkCluster, keys come from the files alone: the plan needs no cluster."""
        directory, server = project
        cluster = _cluster({"publicKeys": ["new.pub"]})

        resolve_cluster_keys(cluster, project_dir=directory)

        assert server.requests == []

    def test_unreachable_cluster_names_check_cluster(self, tmp_path: Path) -> None:
        """A cluster that cannot be asked stops the run, naming checkCluster."""
        (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / "new.pub").write_bytes(_pem(key))
        cluster = _cluster(
            {"publicKeys": ["new.pub"], "checkCluster": {"kubeconfig": "kubeconfig"}}
        )

        with pytest.raises(ClusterKeysError, match=r"jwks\.checkCluster: "):
            resolve_cluster_keys(cluster, project_dir=tmp_path)


class TestRotationConfig:
    def test_force_needs_check(self) -> None:
        """allowRemovingClusterKeys without checkCluster means nothing, and is refused."""
        with pytest.raises(
            Exception, match="allowRemovingClusterKeys: only applies with checkCluster"
        ):
            _cluster({"publicKeys": ["new.pub"], "allowRemovingClusterKeys": True})

    def test_check_is_not_for_from_cluster(self) -> None:
        """fromCluster already publishes what the cluster serves; checkCluster adds nothing."""
        with pytest.raises(ConfigError, match="checkCluster: applies only to publicKeys and file"):
            _cluster({"fromCluster": {}, "checkCluster": True})
