from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import SecretStr

from floe_core import IngestionConfig

CONNECTION = "e735894a-e773-4938-969f-45f53957b75b"  # from Airbyte public API spec examples


def source(connection_id: str = CONNECTION, *, secret: bool = False) -> IngestionConfig:
    """An airbyte_connection pipeline config, the id inline or as a resolved secret."""
    if secret:
        return IngestionConfig(
            name="orders",
            source_type="airbyte_connection",
            destination_table="bronze.orders",
            secrets={"connection_id": SecretStr(connection_id)},
        )
    return IngestionConfig(
        name="orders",
        source_type="airbyte_connection",
        source_config={"connection_id": connection_id},
        destination_table="bronze.orders",
    )


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def paths(requests: list[httpx.Request]) -> list[str]:
    return [f"{r.method} {r.url.path.removeprefix('/api/public/v1')}" for r in requests]
