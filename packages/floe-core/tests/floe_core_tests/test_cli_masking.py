"""The CLI masks every secret value it resolved in all it prints."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from floe_core.cli import main
from floe_core.redact import MASK
from floe_core.registry import PluginRegistry
from floe_core_tests._fakes import LeakyPlugin

PASSWORD = "Zq9can@aryPW5521"
FROM_VAR = "v4r-s3cret-value"
MANIFEST_TOKEN = "manifest-t0ken-xyz"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.mark.filterwarnings("always::UserWarning")
def test_ingest_output_never_contains_a_resolved_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEAKY_PASSWORD", PASSWORD)
    monkeypatch.setenv("DB_PASS_VAR", FROM_VAR)
    monkeypatch.setenv("MANIFEST_TOKEN", MANIFEST_TOKEN)
    (tmp_path / "platform-manifest.yaml").write_text(
        textwrap.dedent(
            """
            plugins:
              ingestion:
                type: leaky
            catalog:
              type: sql
              properties: {fake.token: "${MANIFEST_TOKEN}"}
            observability:
              logs: {format: json, level: DEBUG}
            """
        )
    )
    floe_yaml = tmp_path / "floe.yaml"
    floe_yaml.write_text(
        textwrap.dedent(
            """
            ingestion:
              sources:
                - name: orders
                  type: memory
                  config:
                    rows: 2
                    dsn: "postgresql://app:${DB_PASS_VAR}@127.0.0.1/db"
                    api_token: "${DB_PASS_VAR}"
                  secret_refs: {password: env:LEAKY_PASSWORD}
                  destination: {table: bronze.orders}
            """
        )
    )
    registry = PluginRegistry(entry_points=[])
    registry.register("leaky", LeakyPlugin)

    result = CliRunner().invoke(
        main, ["ingest", str(floe_yaml), "--log-level", "DEBUG"], obj={"registry": registry}
    )

    assert result.exit_code == 0, result.output
    everything = result.stdout + result.stderr
    # what the plugin logged reached the output, masked
    assert '"event": "connecting"' in result.stderr
    assert f"connecting with {MASK}" in result.stderr
    assert f"pw={MASK}" in result.stderr
    assert f"dsn=postgresql://{MASK}@127.0.0.1/db" in result.stderr
    assert f"tokens ['{MASK}', '{MASK}']" in result.stderr
    for secret in (PASSWORD, "aryPW5521", FROM_VAR, MANIFEST_TOKEN):
        assert secret not in everything
    assert LeakyPlugin.seen_secrets["orders"]["password"] == PASSWORD  # the plugin got it
