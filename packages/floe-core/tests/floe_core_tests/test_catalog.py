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


S3_SECRET = "sk-canary-4b1e"
S3_KEY_ID = "ak-canary-77c2"


def s3_catalog() -> CatalogConfig:
    from floe_core.manifest import PlatformManifest

    manifest = PlatformManifest.model_validate(
        {
            "catalog": {
                "type": "rest",
                "uri": "http://127.0.0.1:8181",
                "properties": {"header.X-Api-Token": "tok-canary-0a9f", "s3.region": "eu-1"},
            },
            "storage": {
                "type": "s3",
                "endpoint": "http://127.0.0.1:9000",
                "access_key_id": S3_KEY_ID,
                "secret_access_key": S3_SECRET,
            },
        }
    )
    return manifest.catalog_config()


def test_catalog_properties_keep_real_values_for_the_plugin() -> None:
    catalog = s3_catalog()
    assert catalog.properties["s3.secret-access-key"] == S3_SECRET
    assert catalog.properties["s3.access-key-id"] == S3_KEY_ID
    assert catalog.properties["header.X-Api-Token"] == "tok-canary-0a9f"
    assert catalog.model_copy().properties["s3.secret-access-key"] == S3_SECRET


def test_catalog_secrets_never_render() -> None:
    import io
    import json

    import structlog

    from floe_core.log import configure_logging, get_logger

    catalog = s3_catalog()
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    try:
        get_logger("t").info("catalog_opened", catalog=catalog, dumped=catalog.model_dump())
    finally:
        structlog.reset_defaults()
    [line] = stream.getvalue().splitlines()
    renderings = {
        "structlog json": line,
        "repr": repr(catalog),
        "str": str(catalog),
        "model_dump": str(catalog.model_dump()),
        "model_dump_json": catalog.model_dump_json(),
        "model_dump(mode=json)": json.dumps(catalog.model_dump(mode="json")),
    }
    for where, text in renderings.items():
        assert "canary" not in text, where
    dumped = catalog.model_dump()["properties"]
    assert dumped["s3.secret-access-key"] == dumped["s3.access-key-id"] == "**********"
    assert dumped["header.X-Api-Token"] == "**********"
    assert dumped["s3.region"] == "eu-1" and dumped["s3.endpoint"] == "http://127.0.0.1:9000"
    assert "'s3.region': 'eu-1'" in repr(catalog)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("s3.secret-access-key", True),
        ("s3.access-key-id", True),
        ("token", True),
        ("rest.signing-password", True),
        ("oauth2.credential", True),
        ("s3.endpoint", False),
        ("s3.region", False),
        ("s3.path-style-access", False),
    ],
)
def test_is_secret_property(key: str, secret: bool) -> None:
    from floe_core.catalog import is_secret_property

    assert is_secret_property(key) is secret
