"""The example project: `dagster asset materialize -m defs` loads it, the webserver shows it.

Runs what examples/dagster/README.md says, on a copy of the example: the CLI materializes every
asset into a DAGSTER_HOME, then ``dagster-webserver`` starts on 127.0.0.1 over the same home
and definitions; its GraphQL API lists the asset keys and the latest materialization.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from dagster_test_helpers import EXAMPLE, QUICKSTART

from floe_core import PlatformManifest

BIN = Path(sys.executable).parent
QUERY = """
{
  assetNodes { assetKey { path } groupName }
  assetOrError(assetKey: {path: ["ingestion__orders__orders"]}) {
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries { label ... on IntMetadataEntry { intValue } }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _graphql(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, Any] = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


LOCATIONS = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the webserver answers and has loaded the code location."""
    deadline = time.monotonic() + 240
    last: Any = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster-webserver exited: {log.read_text()[-3000:]}")
        try:
            last = _graphql(port, LOCATIONS)["workspaceOrError"]["locationEntries"]
        except OSError:
            last = None
        if last and all(e["loadStatus"] == "LOADED" for e in last):
            errors = [e["locationOrLoadError"] for e in last]
            assert all(e["__typename"] == "RepositoryLocation" for e in errors), errors
            return
        time.sleep(1)
    raise AssertionError(f"no loaded code location in 240 s: {last}; {log.read_text()[-3000:]}")


def test_example_materializes_from_the_cli_and_the_webserver_shows_it(tmp_path: Path) -> None:
    (tmp_path / "quickstart").mkdir()
    shutil.copy(QUICKSTART / "shop.db", tmp_path / "quickstart" / "shop.db")
    example = tmp_path / "dagster"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("warehouse", "__pycache__"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}

    done = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "defs", "--select", "*"],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    from floe_iceberg import load_catalog

    manifest = PlatformManifest.load(example / "platform-manifest.yaml")
    catalog = load_catalog(manifest.catalog_config())
    assert catalog.load_table("bronze.orders").scan().to_arrow().num_rows == 2000
    assert catalog.load_table("bronze.customers").scan().to_arrow().num_rows == 200

    port = _free_port()
    log = tmp_path / "webserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-m", "defs", "-h", "127.0.0.1", "-p", str(port)],
            cwd=example,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(port, server, log)
        data = _graphql(port, QUERY)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    keys = sorted("/".join(n["assetKey"]["path"]) for n in data["assetNodes"])
    assert keys == ["ingestion__customers__customers", "ingestion__orders__orders"]
    assert {n["groupName"] for n in data["assetNodes"]} == {"ingestion"}
    (latest,) = data["assetOrError"]["assetMaterializations"]
    rows = {e["label"]: e.get("intValue") for e in latest["metadataEntries"]}
    assert rows["dagster/row_count"] == 2000
