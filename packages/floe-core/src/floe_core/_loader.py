"""Reading floe's YAML files: parsing, ``${VAR}`` interpolation, validation, error messages.

Every problem with a file becomes one :class:`ConfigFileError` naming the file, the field path
(``ingestion.sources[1].destination.table``) and what would be valid.

Interpolation (string values only, never keys): ``${VAR}`` is the environment variable ``VAR``
(an error when unset), ``${VAR:-default}`` falls back to ``default`` when ``VAR`` is unset or
empty, and ``$$`` is a literal ``$``. Built-in variables (``FLOE_PROJECT_DIR``) take precedence
over the environment.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from floe_core.errors import ErrorCode, PipelineConfigurationError

__all__ = [
    "ConfigFileError",
    "Problem",
    "format_loc",
    "interpolate",
    "read_yaml",
    "validate_file",
]

_M = TypeVar("_M", bound=BaseModel)
_TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
SECRET_NOT_FOUND_ERROR = "secret_not_found"
"""The pydantic error type a validator raises when a secret reference cannot be resolved."""


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


class ConfigFileError(PipelineConfigurationError):
    """A config file is missing, unreadable or invalid. CONFIGURATION, never retried.

    Args:
        message: The full message (use :meth:`of` to build it from problems).
        file: The file.
        problems: What is wrong, one entry per field.
        code: INVALID_CONFIG unless a secret is missing (SECRET_NOT_FOUND).
    """

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        problems: Sequence[Problem] = (),
        code: ErrorCode | None = None,
    ) -> None:
        self.file = Path(file) if file is not None else None
        self.problems = list(problems)
        super().__init__(
            message,
            code=code,
            details={
                "file": str(file) if file is not None else None,
                "problems": [{"field": p.field, "message": p.message} for p in self.problems],
            },
        )

    @property
    def field(self) -> str | None:
        """The field path of the first problem, or None for a whole-file problem."""
        return self.problems[0].field or None if self.problems else None

    @classmethod
    def of(
        cls, file: Path | str, problems: Sequence[Problem], *, code: ErrorCode | None = None
    ) -> ConfigFileError:
        """Build the error for ``problems`` in ``file``.

        Args:
            file: The file.
            problems: At least one problem.
            code: The error code; INVALID_CONFIG by default.

        Returns:
            The error, its message listing every problem.
        """
        if len(problems) == 1:
            message = f"{file}: {problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            message = f"{file} has {len(problems)} problems:\n{lines}"
        return cls(message, file=file, problems=problems, code=code)


# YAML ------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | None):
            continue  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,
)


def read_yaml(path: Path, *, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping.

    Args:
        path: The file.
        what: What the file is, for messages (``floe.yaml``, ``platform manifest``).

    Returns:
        The mapping.

    Raises:
        ConfigFileError: The file is missing, unreadable, not YAML, empty or not a mapping.
    """
    if not path.exists():
        raise ConfigFileError.of(path, [Problem("", f"{what} not found (no such file)")])
    if not path.is_file():
        raise ConfigFileError.of(path, [Problem("", f"{what} must be a file, not a directory")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError.of(path, [Problem("", f"cannot read {what}: {exc}")]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError.of(path, [Problem("", f"{where}not valid YAML: {problem}")]) from None
    if data is None:
        raise ConfigFileError.of(
            path, [Problem("", f"{what} is empty; it must be a YAML mapping (key: value)")]
        )
    if not isinstance(data, dict):
        raise ConfigFileError.of(
            path,
            [
                Problem(
                    "",
                    f"{what} must be a YAML mapping (key: value) at the top level, "
                    f"not a {_yaml_kind(data)}",
                )
            ],
        )
    return data


def _yaml_kind(value: Any) -> str:
    kinds = {list: "list", dict: "mapping", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


# Interpolation ---------------------------------------------------------------------------


def interpolate(
    value: Any,
    *,
    file: Path,
    environ: Mapping[str, str],
    builtins: Mapping[str, str] | None = None,
    loc: tuple[str | int, ...] = (),
) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` / ``$$`` in every string value.

    Args:
        value: Parsed YAML.
        file: The file, for messages.
        environ: The environment.
        builtins: Variables that take precedence over the environment.
        loc: Where ``value`` sits in the file (for messages).

    Returns:
        A copy with every string interpolated.

    Raises:
        ConfigFileError: A variable without default is unset, or a ``${`` is malformed.
    """
    if isinstance(value, dict):
        return {
            k: interpolate(v, file=file, environ=environ, builtins=builtins, loc=(*loc, k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate(v, file=file, environ=environ, builtins=builtins, loc=(*loc, i))
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "$" not in value:
        return value
    variables = {**environ, **(builtins or {})}

    def replace(match: re.Match[str]) -> str:
        token, name, default = match.group(0), match.group(1), match.group(2)
        if token == "$$":
            return "$"
        if name is None:
            raise ConfigFileError.of(
                file,
                [
                    Problem(
                        format_loc(loc),
                        "malformed '${': write ${VARIABLE} or ${VARIABLE:-default} "
                        "(and $$ for a literal '$')",
                    )
                ],
            )
        found = variables.get(name)
        if default is not None and not found:
            return default
        if found is None:
            raise ConfigFileError.of(
                file,
                [
                    Problem(
                        format_loc(loc),
                        f"environment variable {name} is not set: export {name}=... "
                        f"or write ${{{name}:-default}}",
                    )
                ],
            )
        return found

    return _TOKEN.sub(replace, value)


# Validation ------------------------------------------------------------------------------


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


def validate_file(
    model: type[_M],
    data: Any,
    *,
    file: Path | str,
    context: Mapping[str, Any] | None = None,
    prefix: tuple[str | int, ...] = (),
) -> _M:
    """Validate parsed YAML against ``model``, turning every error into one ConfigFileError.

    Args:
        model: The file's model (or the model of the section at ``prefix``).
        data: Parsed, interpolated YAML.
        file: The file, for messages.
        context: pydantic validation context (secrets directory, environment).
        prefix: Where ``data`` sits in the file, e.g. ``("plugins", "ingestion", "config")``.

    Returns:
        The validated model.

    Raises:
        ConfigFileError: Listing each invalid field with what would be valid.
    """
    try:
        return model.model_validate(data, context=dict(context or {}))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [_problem(model, err, prefix) for err in errors]
        secret = any(err["type"] == SECRET_NOT_FOUND_ERROR for err in errors)
        raise ConfigFileError.of(
            file, problems, code=ErrorCode.SECRET_NOT_FOUND if secret else None
        ) from None


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


def _problem(
    model: type[BaseModel], err: ErrorDetails, prefix: tuple[str | int, ...] = ()
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
        message += f" (got {_yaml_kind(err['input'])})"
    return Problem(format_loc((*prefix, *loc)), message)


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
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
        return sorted(current.model_fields)
    return []


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
