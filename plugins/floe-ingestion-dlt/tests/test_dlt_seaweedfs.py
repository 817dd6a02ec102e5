"""The plugin on a real Iceberg REST catalog + S3 (SeaweedFS), reading files from S3 too."""

from __future__ import annotations

import uuid

import pytest

from floe_core import CatalogConfig, IngestionConfig
from floe_ingestion_dlt import DltIngestionPlugin

pytestmark = pytest.mark.seaweedfs


def test_s3_files_into_rest_catalog_incrementally(seaweedfs_catalog_config: CatalogConfig) -> None:
    import s3fs

    from floe_iceberg import load_catalog

    props = seaweedfs_catalog_config.properties
    key, secret = props["s3.access-key-id"], props["s3.secret-access-key"]
    fs = s3fs.S3FileSystem(
        key=key, secret=secret, endpoint_url=props["s3.endpoint"], skip_instance_cache=True
    )
    prefix = f"floe-data/in-{uuid.uuid4().hex[:8]}"
    fs.pipe(f"{prefix}/a.csv", b"id,name\n1,a\n2,b\n")
    name = f"t{uuid.uuid4().hex[:8]}"
    config = IngestionConfig(
        name="s3files",
        source_type="filesystem",
        source_config={
            "bucket_url": f"s3://{prefix}",
            "file_glob": "*.csv",
            "credentials": {"endpoint_url": props["s3.endpoint"], "region_name": "us-east-1"},
        },
        destination_table=f"bronze.{name}",
        secret_refs={
            "credentials.aws_access_key_id": "env:S3_KEY",
            "credentials.aws_secret_access_key": "env:S3_SECRET",
        },
        secrets={
            "credentials.aws_access_key_id": key,
            "credentials.aws_secret_access_key": secret,
        },
    )
    plugin = DltIngestionPlugin(catalog=seaweedfs_catalog_config)
    assert plugin.health_check(timeout=10).state == "healthy"
    first = plugin.run(plugin.create_pipeline(config))
    assert first.success, first.errors
    assert first.rows_loaded == 2 and first.tables[0].snapshot_id is not None
    assert plugin.run(plugin.create_pipeline(config)).rows_loaded == 0

    fs.pipe(f"{prefix}/b.csv", b"id,name\n3,c\n")
    third = plugin.run(plugin.create_pipeline(config))
    assert third.success, third.errors
    assert third.rows_loaded == 1
    rows = load_catalog(seaweedfs_catalog_config).load_table(f"bronze.{name}").scan().to_arrow()
    assert sorted(rows.column("id").to_pylist()) == [1, 2, 3]
    assert secret not in first.model_dump_json() + third.model_dump_json()
