"""YAML scalars for config models: true/false and numbers as YAML writes them, nothing looser.

pydantic's lax mode reads ``max_attempts: true`` as 1 and ``path_style_access: "off"`` as False.
In floe's files a bool field takes ``true``/``false`` and a number field a number. Because
``${VAR}`` interpolation always yields a string, the strings ``"true"``/``"false"`` (any case)
and numeric strings (``"5"``, ``"1.5"``) are accepted too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from floe_core._validation import yaml_kind

__all__ = ["YamlBool", "YamlFloat", "YamlInt"]


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    got = "a string other than true/false" if isinstance(value, str) else yaml_kind(value)
    raise PydanticCustomError("yaml_bool", "must be true or false (got {got})", {"got": got})


def _not_bool(kind: str, message: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(kind, message)  # problem_for adds "(got boolean)"
        return value

    return check


YamlBool = Annotated[bool, BeforeValidator(_bool)]
"""``true``/``false``, or the string ``"true"``/``"false"`` from ``${VAR}``."""

YamlInt = Annotated[int, BeforeValidator(_not_bool("int_type", "must be a whole number"))]
"""A whole number or a numeric string; never a boolean."""

YamlFloat = Annotated[float, BeforeValidator(_not_bool("float_type", "must be a number"))]
"""A number or a numeric string; never a boolean."""
