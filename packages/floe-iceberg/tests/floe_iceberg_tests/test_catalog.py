"""Opening catalogs from CatalogConfig, and the settings reported without secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import SecretStr
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog

from floe_core import (
    CatalogConfig,
    ErrorCategory,
    ErrorCode,
    PipelineConfigurationError,
    StorageConfig,
    WriteMode,
)
from floe_iceberg import TableWrite, destination_settings, load_catalog, write_table


def test_default_is_embedded_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = load_catalog(CatalogConfig())

    assert isinstance(catalog, SqlCatalog)
    assert (tmp_path / "warehouse" / "catalog.db").is_file()
    write_table(catalog, TableWrite("raw.orders", WriteMode.APPEND), [pa.table({"id": [1]})])
    location = catalog.load_table("raw.orders").location()
    assert location.startswith(str(tmp_path / "warehouse"))
    assert list((tmp_path / "warehouse").rglob("*.parquet"))


def test_file_url_warehouse(tmp_path: Path) -> None:
    config = CatalogConfig(
        uri=f"sqlite:///{tmp_path / 'meta' / 'c.db'}", warehouse=(tmp_path / "data").as_uri()
    )
    catalog = load_catalog(config)
    write_table(catalog, TableWrite("a.b", WriteMode.APPEND), [pa.table({"id": [1]})])

    assert (tmp_path / "meta" / "c.db").is_file()
    assert list((tmp_path / "data").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (CatalogConfig(type="sql", uri="not a url"), "catalog.uri"),
        (CatalogConfig(type="sql", uri="nosuchdialect://x"), "catalog.uri"),
        (CatalogConfig(type="sql", warehouse="ftp://host/x"), "catalog.warehouse"),
        (CatalogConfig(type="sql", token=SecretStr("t")), "catalog.token"),
        (CatalogConfig(type="rest", uri="127.0.0.1:8181"), "catalog.uri"),
        (
            CatalogConfig(type="rest", uri="http://127.0.0.1:1", credential=SecretStr("nocolon")),
            "catalog.credential",
        ),
        (
            CatalogConfig(type="rest", uri="http://127.0.0.1:1", properties={"uri": "x"}),
            "catalog.properties.uri",
        ),
    ],
)
def test_bad_config_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: CatalogConfig, field: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineConfigurationError) as info:
        load_catalog(config)
    assert info.value.code is ErrorCode.DESTINATION_CONFIG_ERROR
    assert info.value.category is ErrorCategory.CONFIGURATION
    assert info.value.details["field"] == field
    assert "nocolon" not in info.value.message


def test_destination_settings_hold_no_secret(tmp_path: Path) -> None:
    config = CatalogConfig(
        type="rest",
        uri="https://catalog.example.test/api",
        warehouse="lake",
        credential=SecretStr("client:very-secret-1"),
        scope="PRINCIPAL_ROLE:ALL",
        properties={
            "s3.endpoint": "http://127.0.0.1:9000",
            "s3.secret-access-key": "very-secret-2",
        },
    )
    storage = StorageConfig(
        type="s3",
        region="eu-west-1",
        access_key_id=SecretStr("very-secret-3"),
        secret_access_key=SecretStr("very-secret-4"),
    )
    settings = destination_settings(config, storage=storage)

    text = json.dumps(settings)
    assert "very-secret" not in text
    assert settings["catalog_type"] == "rest"
    assert settings["uri"] == "https://catalog.example.test/api"
    assert settings["warehouse"] == "lake"
    assert settings["auth"] == "oauth2_client_credentials"
    assert settings["properties"] == {
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.path-style-access": "true",
        "s3.region": "eu-west-1",
    }

    sql = destination_settings(
        CatalogConfig(uri="postgresql+psycopg2://u:pw-secret@127.0.0.1/db", warehouse=str(tmp_path))
    )
    assert "pw-secret" not in json.dumps(sql)
    assert sql["uri"] == "postgresql+psycopg2://**********@127.0.0.1/db"
    assert sql["auth"] == "none"


def test_embedded_settings_point_at_the_warehouse(tmp_path: Path) -> None:
    settings = destination_settings(CatalogConfig.embedded(tmp_path))
    assert settings["catalog_type"] == "sql"
    assert settings["uri"] == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings["warehouse"] == str(tmp_path)


@pytest.mark.seaweedfs
def test_rest_catalog_opens_with_client_credentials(
    seaweedfs_catalog_config: CatalogConfig,
) -> None:
    catalog = load_catalog(seaweedfs_catalog_config)
    assert isinstance(catalog, RestCatalog)
    assert isinstance(catalog.list_namespaces(), list)
    settings = destination_settings(seaweedfs_catalog_config)
    assert settings["auth"] == "oauth2_client_credentials"
    assert "floetestsecret" not in json.dumps(settings)


@pytest.mark.seaweedfs
def test_sql_catalog_with_an_s3_warehouse(
    seaweedfs_catalog_config: CatalogConfig, seaweedfs_data_bucket: str, tmp_path: Path
) -> None:
    s3 = {k: v for k, v in seaweedfs_catalog_config.properties.items() if k.startswith("s3.")}
    config = CatalogConfig(
        uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://{seaweedfs_data_bucket}/wh-{tmp_path.name}",
        properties=s3,
    )
    catalog = load_catalog(config)
    spec = TableWrite("raw.events", WriteMode.MERGE, primary_key=("id",))
    write_table(catalog, spec, [pa.table({"id": [1, 2], "v": ["a", "b"]})])
    write_table(catalog, spec, [pa.table({"id": [2, 3], "v": ["B", "c"]})])

    table = catalog.load_table("raw.events")
    assert table.location().startswith(f"s3://{seaweedfs_data_bucket}/wh-")
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}]


@pytest.mark.seaweedfs
def test_rest_catalog_opens_with_a_bearer_token(
    seaweedfs_catalog_config: CatalogConfig, table_name: str
) -> None:
    import urllib.parse
    import urllib.request

    assert seaweedfs_catalog_config.credential is not None and seaweedfs_catalog_config.uri
    client_id, secret = seaweedfs_catalog_config.credential.get_secret_value().split(":", 1)
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    ).encode()
    url = f"{seaweedfs_catalog_config.uri}/v1/oauth/tokens"
    with urllib.request.urlopen(url, data=body, timeout=10) as response:
        token = json.load(response)["access_token"]
    config = seaweedfs_catalog_config.model_copy(
        update={"credential": None, "token": SecretStr(token)}
    )

    catalog = load_catalog(config)
    write_table(catalog, TableWrite(table_name, WriteMode.APPEND), [pa.table({"id": [1]})])
    assert catalog.load_table(table_name).scan().to_arrow()["id"].to_pylist() == [1]
    assert destination_settings(config)["auth"] == "bearer_token"


_OPEN_AND_LIST = """
import pathlib, sys, time
from floe_core import CatalogConfig
from floe_iceberg import load_catalog
barrier = pathlib.Path(sys.argv[2])
(barrier / sys.argv[3]).touch()  # imported and ready
while not (barrier / "go").exists():  # every process opens the fresh catalog at once
    time.sleep(0.005)
load_catalog(CatalogConfig.embedded(sys.argv[1])).list_namespaces()
"""


def test_processes_creating_a_fresh_warehouse_at_once_all_open_it(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    warehouse, barrier = tmp_path / "warehouse", tmp_path / "barrier"
    barrier.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AND_LIST, str(warehouse), str(barrier), f"ready-{n}"],
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < len(children) and time.monotonic() < deadline:
        time.sleep(0.05)
    (barrier / "go").touch()
    failures = [c.communicate(timeout=120)[1].decode() for c in children]
    assert [c.returncode for c in children] == [0] * len(children), failures


def test_a_catalog_table_created_by_another_process_meanwhile_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import floe_iceberg.catalog as module

    calls: list[int] = []
    real = SqlCatalog

    def racing(name: str, **props: str) -> SqlCatalog:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("CREATE TABLE iceberg_tables", {}, Exception("already exists"))
        return real(name, **props)

    monkeypatch.setattr("pyiceberg.catalog.sql.SqlCatalog", racing)
    catalog = module.load_catalog(CatalogConfig.embedded(tmp_path / "warehouse"))
    assert catalog.list_namespaces() == []
    assert len(calls) == 2
