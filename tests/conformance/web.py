"""The part of the internet a cloud reads while it verifies a token, simulated offline.

Two kinds of publisher: the objects the plan uploads to buckets, served at the URLs the storage
service would serve them at and only when the bucket's policy lets an anonymous reader have them;
and managed issuers (AKS, EKS, GKE), whose discovery document and JWKS the suite serves itself
with the signing key it controls, at the issuer URL the plan shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fluxtrust.plan import PlannedResource

from .iam_policy import ANONYMOUS, PolicyError, PolicyRequest, evaluate_policy
from .tokens import SigningKey

__all__ = ["Document", "Web", "discovery_url"]

S3_OBJECT_TYPES = ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")


def discovery_url(issuer: str) -> str:
    """Where OpenID Connect Discovery looks: the issuer, less a trailing '/', plus the path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Document:
    """A document served at a URL, and who serves it (for failure messages)."""

    body: str
    served_by: str

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Web:
    """URL -> document. A URL nobody serves reads as a 404."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}

    def documents(self) -> dict[str, Document]:
        """Every URL served, and its document."""
        return dict(self._documents)

    def get(self, url: str) -> Document | None:
        """What an anonymous HTTPS GET of the URL returns, or None."""
        return self._documents.get(url)

    def publish(self, url: str, body: str, served_by: str) -> None:
        """Serves a document at one URL."""
        self._documents[url] = Document(body, served_by)

    def serve_managed_issuer(self, issuer: str, key: SigningKey, label: str) -> None:
        """Plays a managed cluster's issuer: its discovery document and its JWKS."""
        jwks_uri = issuer.rstrip("/") + "/openid/v1/jwks"
        discovery = {
            "issuer": issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        self.publish(discovery_url(issuer), json.dumps(discovery), f"simulated issuer {label}")
        self.publish(jwks_uri, json.dumps(key.jwks()), f"simulated issuer {label}")

    def serve_s3_objects(self, resources: Iterable[PlannedResource], default_region: str) -> None:
        """Serves every object the plan uploads to S3 that an anonymous reader may GET."""
        resources = list(resources)
        for obj in resources:
            if obj.type not in S3_OBJECT_TYPES:
                continue
            bucket, key = str(obj.inputs.get("bucket")), str(obj.inputs.get("key"))
            body = _object_body(obj.inputs)
            if body is None or not _publicly_readable(resources, bucket, key):
                continue
            region = _bucket_region(resources, bucket) or str(
                obj.inputs.get("region") or default_region
            )
            served_by = f"plan: {obj.type} {obj.name}"
            # Path-style, which works for every bucket name.
            self.publish(f"https://s3.{region}.amazonaws.com/{bucket}/{key}", body, served_by)
            if region == "us-east-1":
                self.publish(f"https://s3.amazonaws.com/{bucket}/{key}", body, served_by)
            # Virtual-hosted style: a dotted bucket name breaks the *.s3 TLS certificate, so a
            # verifier could not fetch it.
            if "." not in bucket:
                self.publish(f"https://{bucket}.s3.{region}.amazonaws.com/{key}", body, served_by)


def _object_body(inputs: Mapping[str, Any]) -> str | None:
    content = inputs.get("content")
    if isinstance(content, str):
        return content
    source = inputs.get("source")
    if isinstance(source, Mapping) and isinstance(source.get("asset"), str):
        return str(source["asset"])
    return None


def _bucket_region(resources: list[PlannedResource], bucket: str) -> str | None:
    for r in resources:
        if r.type == "aws:s3/bucket:Bucket" and r.inputs.get("bucket") == bucket:
            region = r.inputs.get("region")
            return str(region) if region else None
    return None


def _publicly_readable(resources: list[PlannedResource], bucket: str, key: str) -> bool:
    """S3's answer to an anonymous GET over HTTPS: the bucket policy must allow it, unblocked."""
    for r in resources:
        # blockPublicPolicy makes S3 refuse the public policy itself; restrictPublicBuckets
        # ignores it for anonymous readers.
        if (
            r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
            and r.inputs.get("bucket") == bucket
            and (r.inputs.get("blockPublicPolicy") or r.inputs.get("restrictPublicBuckets"))
        ):
            return False
    request = PolicyRequest(
        action="s3:GetObject",
        principal=ANONYMOUS,
        resource=f"arn:aws:s3:::{bucket}/{key}",
        context={"aws:SecureTransport": ["true"]},
    )
    decisions = []
    for r in resources:
        if r.type == "aws:s3/bucketPolicy:BucketPolicy" and r.inputs.get("bucket") == bucket:
            try:
                decisions.append(evaluate_policy(str(r.inputs.get("policy")), request))
            except PolicyError:
                return False
    return "allow" in decisions and "explicit-deny" not in decisions
