from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from floe_core.catalog import CatalogConfig, StorageConfig


def test_embedded_default_is_absolute_sqlite_under_the_warehouse(tmp_path: Path) -> None:
    config = CatalogConfig.embedded(tmp_path / "wh")
    assert config.type == "sql"
    assert config.uri == f"sqlite:///{tmp_path / 'wh' / 'catalog.db'}"
    assert config.warehouse == str(tmp_path / "wh")


def test_rest_needs_uri() -> None:
    with pytest.raises(ValidationError, match="needs 'uri'"):
        CatalogConfig(type="rest")


def test_credential_and_token_are_exclusive_and_masked() -> None:
    with pytest.raises(ValidationError, match="not both"):
        CatalogConfig(
            type="rest",
            uri="http://127.0.0.1:8181",
            credential=SecretStr("a:b"),
            token=SecretStr("t"),
        )
    config = CatalogConfig(type="rest", uri="http://127.0.0.1:8181", token=SecretStr("t0ken"))
    assert "t0ken" not in repr(config)


def test_storage_keys_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="both access_key_id and secret_access_key"):
        StorageConfig(type="s3", access_key_id=SecretStr("k"))


def test_local_storage_rejects_endpoint() -> None:
    with pytest.raises(ValidationError, match="set type: s3"):
        StorageConfig(endpoint="http://127.0.0.1:9000")


def test_s3_storage_becomes_iceberg_fileio_properties() -> None:
    storage = StorageConfig(
        type="s3",
        endpoint="http://127.0.0.1:8333",
        region="us-east-1",
        access_key_id=SecretStr("AKIA"),
        secret_access_key=SecretStr("s3cr3t"),
    )
    assert storage.iceberg_properties() == {
        "s3.path-style-access": "true",
        "s3.endpoint": "http://127.0.0.1:8333",
        "s3.region": "us-east-1",
        "s3.access-key-id": "AKIA",
        "s3.secret-access-key": "s3cr3t",
    }
    assert "s3cr3t" not in repr(storage)
    assert StorageConfig(type="local", path="/data").iceberg_properties() == {}
