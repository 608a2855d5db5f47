"""Tests for the migration guide: the safe order of an issuer change, with the cluster's URLs."""

from __future__ import annotations

from fluxtrust.migration import migration_guide

NEW = "https://acme-kind-v2.s3.eu-west-1.amazonaws.com"
OLD = "https://acme-kind.s3.eu-west-1.amazonaws.com"


def _steps(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1].isdigit()]


class TestSelfHostedMigration:
    def test_publish_check_flags_wait_remove_in_that_order(self) -> None:
        """Documents are published and checked before the flags change; the old issuer goes last."""
        guide = migration_guide(
            cluster="ci-kind",
            issuer=NEW,
            previous_issuers=[OLD],
            jwks_uri=f"{NEW}/openid/v1/jwks",
            self_hosted=True,
        )

        steps = _steps(guide)
        assert len(steps) == 5
        assert "publishes the new discovery documents" in steps[0]
        assert "fluxtrust verify --cluster ci-kind" in steps[1]
        assert "change the API server flags" in steps[2]
        assert "Wait out" in steps[3]
        assert "Remove the old issuer" in steps[4]

    def test_new_issuer_flag_comes_first(self) -> None:
        """The API server signs with the first issuer, so the new one must lead."""
        guide = migration_guide(
            cluster="ci-kind",
            issuer=NEW,
            previous_issuers=[OLD],
            jwks_uri=f"{NEW}/openid/v1/jwks",
            self_hosted=True,
        )

        flags = _steps(guide)[2]
        assert flags.index(f"--service-account-issuer={NEW}") < flags.index(
            f"--service-account-issuer={OLD}"
        )
        assert f"--service-account-jwks-uri={NEW}/openid/v1/jwks" in flags


class TestOtherGuides:
    def test_setup_without_previous_issuer_has_no_waiting(self) -> None:
        """A new self-hosted issuer needs publishing, checking and the flags, nothing more."""
        guide = migration_guide(
            cluster="lab", issuer=NEW, previous_issuers=[], jwks_uri=None, self_hosted=True
        )

        assert guide.startswith(f"Issuer setup for cluster lab: {NEW}")
        assert len(_steps(guide)) == 3
        assert "Wait out" not in guide

    def test_managed_cluster_rebuild_keeps_both_then_drops_the_old(self) -> None:
        """A rebuilt managed cluster: trust both issuers, wait, then drop the old one."""
        guide = migration_guide(
            cluster="prod-aks",
            issuer="https://westeurope.oic.prod-aks.azure.com/t/new/",
            previous_issuers=["https://westeurope.oic.prod-aks.azure.com/t/old/"],
            jwks_uri=None,
            self_hosted=False,
        )

        steps = _steps(guide)
        assert len(steps) == 3
        assert "API server flags" not in guide
        assert "previousIssuers" in steps[0]
        assert "Wait out" in steps[1]
        assert "Remove the old issuer from previousIssuers" in steps[2]
