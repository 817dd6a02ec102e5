"""Which side failed: what a block, or the source's iterator, raises, as the taxonomy.

Inside :func:`on_side` anything outside the taxonomy is translated as a failure of the source
or the destination (:func:`floe_ingestion_dlt._errors.translate`); :func:`load_step` is one
table's ``load`` span on the destination side; :func:`source_batches` iterates a resource into
Arrow batches, its failures the source's. Shared by the one-stream, pooled and Dagster-part loads.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

from floe_core import IngestionConfig, IngestionError
from floe_core.telemetry import span
from floe_ingestion_dlt._arrow import to_batches
from floe_ingestion_dlt._errors import ErrorTable, Side, translate
from floe_ingestion_dlt._state import ResourceState

__all__ = ["PASS_THROUGH", "load_step", "on_side", "source_batches"]

PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)
"""Never translated: the process is being stopped, or a generator closed."""


class on_side:
    """Translate anything raised inside the block as a failure of one side."""

    def __init__(
        self, side: Side, source: str, source_errors: Callable[[], ErrorTable] | None = None
    ) -> None:
        self._side = side
        self._source = source
        self._source_errors = source_errors

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, PASS_THROUGH) or isinstance(exc, IngestionError):
            return
        raise translate(
            exc, side=self._side, source=self._source, source_errors=self._source_errors
        ) from exc


@contextmanager
def load_step(config: IngestionConfig, table: str) -> Iterator[Any]:
    """The ``load`` span of one table, anything raised inside it a destination failure."""
    with (
        span(
            "load",
            destination_table=table,
            pipeline_name=config.name,
            write_mode=config.write_mode.value,
        ) as current,
        on_side("destination", config.name),
    ):
        yield current


def source_batches(
    state: ResourceState,
    batch_rows: int,
    source: str,
    source_errors: Callable[[], ErrorTable],
) -> Generator[Any]:
    """Iterate the resource into Arrow batches; failures are translated as source failures."""
    try:
        yield from to_batches(state.iterate(), batch_rows)
    except (IngestionError, *PASS_THROUGH):
        raise
    except BaseException as exc:
        raise translate(exc, side="source", source=source, source_errors=source_errors) from exc
