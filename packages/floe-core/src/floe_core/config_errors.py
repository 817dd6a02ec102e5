"""One wording for configuration errors: pydantic ValidationErrors as field paths and advice.

Core (the config files, a plugin's ``plugins.ingestion.config``) and every plugin (a source's
``config``, an API answer) turn a :class:`pydantic.ValidationError` into text the same way::

    try:
        settings = MySourceConfig.model_validate(raw)
    except ValidationError as exc:
        raise PipelineConfigurationError(
            f"source {name!r}: " + format_validation_error(exc, model=MySourceConfig),
            details={"fields": [p.field for p in validation_problems(exc, MySourceConfig)]},
        ) from None

gives ``tabels: unknown key 'tabels'; did you mean 'tables'? (valid keys: ...)``. Messages
name the kind of a bad input (``must be a string (got number)``), never its value: it may be a
secret.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from floe_core._validation import Problem, format_loc, problem_for

__all__ = ["Problem", "format_loc", "format_validation_error", "validation_problems"]


def validation_problems(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    *,
    prefix: Sequence[str | int] = (),
) -> list[Problem]:
    """Return one :class:`Problem` (field path and advice) per error in ``exc``.

    Args:
        exc: The validation error.
        model: The model that was validated; with it, an unknown key gets "did you mean" and
            the list of valid keys.
        prefix: Where the model sits in its file, e.g. ``("plugins", "ingestion", "config")``.

    Returns:
        The problems, in pydantic's order.
    """
    return [problem_for(model, err, tuple(prefix)) for err in exc.errors(include_url=False)]


def format_validation_error(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    *,
    prefix: Sequence[str | int] = (),
    limit: int | None = None,
) -> str:
    """Return ``exc`` as one line: ``field: advice; field: advice``.

    Args:
        exc: The validation error.
        model: The model that was validated (see :func:`validation_problems`).
        prefix: Field path in front of every field.
        limit: Show at most this many problems (and say how many more there are).

    Returns:
        The text, with no input value in it.
    """
    problems = validation_problems(exc, model, prefix=prefix)
    shown = problems if limit is None else problems[:limit]
    text = "; ".join(map(str, shown))
    if len(problems) > len(shown):
        text += f"; and {len(problems) - len(shown)} more"
    return text
