"""Structured logs: an event name plus keyword fields, JSON by default, secrets redacted.

::

    log = get_logger(__name__)
    log.info("load_committed", source="orders", table="bronze.orders", rows=1200)

:func:`configure_logging` sets the format (``json`` one object per line, or ``console`` for
people) and level, from ``observability.logs``. Every event passes :func:`redact_secrets`, which
applies :mod:`floe_core.redact`: :class:`~pydantic.SecretStr` values, values under secret-looking
keys (:func:`~floe_core.redact.is_secret_name`; nested mappings too), URL userinfo
(``postgresql://user:pass@host/db``), ``password=`` pairs, bearer tokens and the secret values
remembered while loading config. Captured stdlib records pass
:class:`~floe_core.redact.RedactingFilter`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

from floe_core.redact import MASK, RedactingFilter, is_secret_name, redact_value, remembered

__all__ = [
    "REDACTED",
    "configure_logging",
    "get_logger",
    "redact_secrets",
    "redact_text",
    "release_stdlib",
]

REDACTED = MASK
"""What a secret value is replaced with (:data:`floe_core.redact.MASK`)."""


def redact_text(text: str) -> str:
    """Mask credentials in free text (see :func:`floe_core.redact.redact_text`).

    Args:
        text: A message, e.g. a dependency's exception text.

    Returns:
        The text with URL userinfo, ``password=`` pairs, bearer tokens and remembered secret
        values replaced by :data:`REDACTED`.
    """
    return str(redact_value(text, remembered()))


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor that masks secrets in every field of an event.

    Args:
        logger: The wrapped logger (unused).
        method_name: The log method (unused).
        event_dict: The event.

    Returns:
        The event with secret values replaced by :data:`REDACTED`.
    """
    values = remembered()
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if is_secret_name(key) else redact_value(value, values)
    return event_dict


def configure_logging(
    format: Literal["json", "console"] = "json",
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    capture_stdlib: bool = False,
) -> None:
    """Configure structlog for floe (process-wide).

    Args:
        format: ``json`` (one object per line) or ``console`` (human-readable).
        level: Minimum level name (``DEBUG`` ... ``CRITICAL``).
        stream: Where to write; standard error by default.
        capture_stdlib: Also render standard-library log records (dlt, pyiceberg, urllib3, ...)
            the same way, redacted, through one handler on the root logger; the root logger's
            own level (WARNING by default) still decides which of them are emitted.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    release_stdlib()
    if capture_stdlib:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setLevel(numeric)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
                processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            )
        )
        handler.addFilter(RedactingFilter())
        setattr(handler, _FLOE_HANDLER, True)
        logging.getLogger().addHandler(handler)


_FLOE_HANDLER = "_floe_handler"


def release_stdlib() -> None:
    """Remove the root-logger handler :func:`configure_logging` installed, if any."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _FLOE_HANDLER, False):
            root.removeHandler(handler)


def get_logger(name: str | None = None, **fields: Any) -> Any:
    """Return a lazy structlog logger bound to ``logger_name=name`` and ``fields``.

    The logger follows the configuration current when it logs, so module-level loggers pick up
    a later :func:`configure_logging`.

    Args:
        name: Usually ``__name__``.
        **fields: Fields added to every event.

    Returns:
        A bound logger: ``log.info("event_name", key=value)``.
    """
    initial = {"logger_name": name, **fields} if name else fields
    return structlog.get_logger(**initial)
