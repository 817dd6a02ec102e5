"""OpenTelemetry spans for floe ingestion: ``floe.ingestion.<operation>``.

Span attribute names (set what is known, never a secret):
``ingestion.source_type``, ``ingestion.destination_table``, ``ingestion.pipeline_name``,
``ingestion.rows_loaded``, ``ingestion.bytes_written``, ``ingestion.duration_seconds``,
``ingestion.write_mode``, ``ingestion.schema_contract``; on failure ``error.type`` (the
exception class, e.g. ``SourceConnectionError``, also for an error that travelled as an
:class:`~floe_core.errors.ErrorDetail`), ``error.code`` (floe errors only), ``error.category``,
``error.message``.

Spans go to the global tracer provider unless :func:`use_tracer_provider` names one (what
``floe ingest`` does when the manifest has ``observability.traces``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, TracerProvider

from floe_core.errors import IngestionError

__all__ = ["TRACER_NAME", "record_error", "span", "use_tracer_provider"]

TRACER_NAME = "floe.ingestion"

_provider: TracerProvider | None = None


def use_tracer_provider(provider: TracerProvider | None) -> TracerProvider | None:
    """Send floe's spans to ``provider`` (None: back to the global provider).

    Args:
        provider: The provider, or None.

    Returns:
        The provider used before, to restore later.
    """
    global _provider
    previous, _provider = _provider, provider
    return previous


def _attribute(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)


def record_error(current: Span, error: BaseException) -> None:
    """Mark ``current`` failed with the error's type, code, category and message.

    Args:
        current: The span to mark.
        error: The failure; an IngestionError contributes its ``error_type``, code and
            category, anything else its class name and PERMANENT.
    """
    if isinstance(error, IngestionError):
        category, message = error.category.value, error.message
        current.set_attribute("error.type", error.error_type)
        current.set_attribute("error.code", error.code.value)
    else:
        category, message = "PERMANENT", str(error)
        current.set_attribute("error.type", type(error).__name__)
    current.set_attribute("error.category", category)
    current.set_attribute("error.message", message[:500])
    current.set_status(Status(StatusCode.ERROR, message[:200]))


@contextmanager
def span(operation: str, **attributes: Any) -> Iterator[Span]:
    """Open the span ``floe.ingestion.<operation>`` as the current span.

    Keyword arguments become attributes: ``source_type=...`` is set as
    ``ingestion.source_type``; a name containing a dot (``error.type``) is kept as given.
    ``None`` values are skipped. An exception leaving the block marks the span failed.

    Args:
        operation: Short operation name (``run``, ``extract``, ``commit``, ...).
        **attributes: Span attributes.

    Yields:
        The span, for attributes known only later (``rows_loaded``).
    """
    tracer = (_provider.get_tracer(TRACER_NAME) if _provider is not None else None) or (
        trace.get_tracer(TRACER_NAME)
    )
    names = {(k if "." in k else f"ingestion.{k}"): v for k, v in attributes.items()}
    with tracer.start_as_current_span(
        f"floe.ingestion.{operation}",
        attributes={k: _attribute(v) for k, v in names.items() if v is not None},
        record_exception=True,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            record_error(current, exc)
            raise
