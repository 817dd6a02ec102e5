"""What a source type is: one object the plugin dispatches to, registered in one table.

A source type names itself, validates its YAML with its own pydantic model, checks what can be
checked when the pipeline is created, builds its extracts (with a callback that releases what
they hold: connections, clients) and lists the exception classes of its dependencies with what
they mean (:data:`~floe_ingestion_dlt._errors.ErrorTable`). Adding one is a module exporting a
:class:`SourceType` plus one line in :data:`floe_ingestion_dlt.sources.REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from floe_core import IngestionConfig
from floe_ingestion_dlt._config import DltPluginConfig, validate_source
from floe_ingestion_dlt._errors import ErrorTable
from floe_ingestion_dlt._source import Extract

__all__ = ["Built", "SourceType"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def _nothing() -> None:
    return None


def _no_check(config: IngestionConfig, source: Any) -> None:
    return None


def _no_probe(config: IngestionConfig, source: Any, timeout: float) -> None:
    return None


def _no_errors() -> ErrorTable:
    return {}


@dataclass(frozen=True)
class Built:
    """What a source type built for one run.

    Attributes:
        extracts: One extract per destination table.
        release: Called once after the run, successful or not (closes connections).
    """

    extracts: list[Extract]
    release: Callable[[], None] = field(default=_nothing)


@dataclass(frozen=True, kw_only=True)
class SourceType(Generic[ModelT]):
    """One ``source_type`` the dlt plugin implements.

    Attributes:
        name: The ``source_type`` value in ``floe.yaml``.
        model: The pydantic model of its ``source_config``.
        build: ``(config, validated model, plugin settings) -> Built``; may import dlt.
        check: ``(config, validated model) -> None``, run by ``create_pipeline``: raises
            :class:`~floe_core.PipelineConfigurationError` for what can be found wrong without
            reading data.
        probe: ``(config, validated model, timeout) -> None``, run by ``floe validate``
            (``check_source``) unless ``--offline``: connects (within ``timeout``) and checks
            what needs the live source but no data (a database's tables and columns); raises
            :class:`~floe_core.PipelineConfigurationError`, or lets a dependency's exception
            propagate for :attr:`errors` to translate. A no-op by default.
        errors: Returns its dependencies' exception classes and their handlers (called at
            translation time, so the classes are imported only then); merged over the
            plugin-wide table, the most specific class wins.
        supplies_primary_key: Whether the source can name the key itself (a database reflects
            it), so that ``write_mode: merge`` may omit ``primary_key``.
        load_parallel: Loads one table in parts committed once, when the source's model has a
            ``parallel`` setting (``sql_database``: :mod:`._sql_parallel`); None: never.
        supports_window: Whether :attr:`build` honours ``config.window`` (loads only the rows
            of the window, ignoring the incremental cursor), so a source with ``partitions``
            may use this type.
    """

    name: str
    model: type[ModelT]
    build: Callable[[IngestionConfig, ModelT, DltPluginConfig], Built]
    check: Callable[[IngestionConfig, ModelT], None] = _no_check
    probe: Callable[[IngestionConfig, ModelT, float], None] = _no_probe
    errors: Callable[[], ErrorTable] = _no_errors
    supplies_primary_key: bool = False
    load_parallel: Callable[..., Any] | None = None
    supports_window: bool = False

    def parse(self, config: IngestionConfig) -> ModelT:
        """Validate ``config.source_config`` (with its secrets) against :attr:`model`.

        Args:
            config: The source.

        Returns:
            The validated model (secrets in place; never log it).

        Raises:
            PipelineConfigurationError: A field is wrong (named, with the closest allowed).
        """
        return validate_source(config, self.model)
