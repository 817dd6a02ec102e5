"""An Airbyte source's connection id (inline or a secret), and scrubbing it from reports."""

from __future__ import annotations

import uuid
from typing import Any

from floe_core.errors import IngestionError, PipelineConfigurationError
from floe_core.ingestion import IngestionConfig, IngestionResult
from floe_core.redact import mask_values

__all__ = ["Scrubber", "connection_id_of"]

_SOURCE_KEYS = frozenset({"connection_id"})


def connection_id_of(config: IngestionConfig) -> tuple[str, str, bool]:
    """Return ``(connection_id, label, from_secret)`` from the source config or a secret ref."""
    unknown = sorted(set(config.source_config) - _SOURCE_KEYS)
    if unknown:
        raise PipelineConfigurationError(
            f"source_config has unknown key(s) {', '.join(unknown)}; an airbyte_connection "
            "takes only connection_id (the connection's UUID, or a secret ref to it)",
            source=config.name,
        )
    ref = config.secret_refs.get("connection_id")
    secret = ref is not None or "connection_id" in config.secrets
    value: Any = config.source_config_with_secrets().get("connection_id")
    if value is None and ref is not None:
        value = ref.resolve().get_secret_value()
    if value is None or not str(value).strip():
        raise PipelineConfigurationError(
            "source_config.connection_id is missing: give the Airbyte connection's UUID "
            "(the id in the connection's URL), inline or in secret_refs",
            source=config.name,
        )
    label = f"<connection id from secret {ref.describe()}>" if ref is not None else None
    if secret and label is None:
        label = "<connection id from a secret>"
    try:
        connection_id = str(uuid.UUID(str(value).strip()))
    except ValueError:
        shown = label if secret else repr(str(value))
        raise PipelineConfigurationError(
            f"source_config.connection_id {shown} is not a UUID: give the Airbyte "
            "connection's id (the UUID in the connection's URL)",
            source=config.name,
        ) from None
    return connection_id, label or connection_id, secret


class Scrubber:
    """Replaces secret values (a connection id given as a secret) in what the plugin reports."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = [s for s in secrets if s]

    def text(self, value: str) -> str:
        return mask_values(value, self._secrets)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def error(self, exc: IngestionError) -> IngestionError:
        if self._secrets:
            exc.message = self.text(exc.message)
            exc.args = (exc.message,)
            exc.details = self.value(exc.details)
        return exc

    def result(self, result: IngestionResult) -> IngestionResult:
        if not self._secrets:
            return result
        return IngestionResult.model_validate(self.value(result.model_dump(mode="json")))
