"""Turning pydantic validation errors into field paths and plain advice.

Shared by the config-file loader, ``IngestionPlugin.__init__`` and (through the public
:mod:`floe_core.config_errors`) every plugin, so a bad field reads the same wherever it is
caught: ``plugins.ingestion.config.base_ur: unknown key 'base_ur'; did you mean 'base_url'?``.
Messages show the kind of a bad input, never its value (it may be a secret).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

__all__ = ["Problem", "format_loc", "problem_for", "yaml_kind"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file.

    Attributes:
        field: Dotted field path, e.g. ``ingestion.sources[1].destination.table``; empty for the
            whole file.
        message: What is wrong and what would be valid.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def format_loc(loc: Sequence[str | int]) -> str:
    """Format a pydantic location as a field path: ``ingestion.sources[1].destination.table``.

    Args:
        loc: Location parts; ints are list indexes.

    Returns:
        The path; keys that are not identifiers are quoted, e.g. ``secret_refs['a.b']``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def yaml_kind(value: Any) -> str:
    """Name a parsed YAML value's kind as a YAML user would (never the value itself)."""
    kinds = {
        list: "list",
        dict: "mapping",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }
    return kinds.get(type(value), type(value).__name__)


_PLAIN = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
}
"""Plain wording for pydantic's type errors (YAML users think in strings, numbers, lists)."""


def problem_for(
    model: type[BaseModel] | None, err: ErrorDetails, prefix: tuple[str | int, ...] = ()
) -> Problem:
    loc = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("field"), tuple):
        loc = (*loc, *ctx["field"])
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        valid = _fields_at(model, loc[:-1])
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, valid, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        if valid:
            message += f" (valid keys: {', '.join(valid)})"
    elif err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] in _PLAIN:
        message = _PLAIN[err["type"]]
    elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be a mapping (key: value)"
        valid = _fields_at(model, loc)
        if valid:
            message += f" with keys from: {', '.join(valid)}"
    if err["type"].endswith("_type") and "input" in err:
        # Only the input's kind, never its value: it may be an interpolated secret.
        message += f" (got {yaml_kind(err['input'])})"
    return Problem(format_loc((*prefix, *loc)), message)


def _fields_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> list[str]:
    if model is None:
        return []
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _by_key(current).get(str(part)) or current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            if typing.get_origin(current) in (list, tuple) and args:
                current = args[0]
            elif typing.get_origin(current) is dict and len(args) == 2:
                current = args[1]
            else:
                return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(_by_key(current))
    return []


def _by_key(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields by the key a file uses for them (the alias, where one is set)."""
    fields = model.model_fields
    return {(f.alias or name): f for name, f in fields.items()}


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional down to the one model or container type inside."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation
