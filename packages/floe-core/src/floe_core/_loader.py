"""Reading floe's YAML files: parsing, ``${VAR}`` interpolation, validation, error messages.

Every problem with a file becomes one :class:`ConfigFileError` naming the file, the field path
(``ingestion.sources[1].destination.table``) and what would be valid.

Interpolation (string values only, never keys): ``${VAR}`` is the environment variable ``VAR``
(an error when unset), ``${VAR:-default}`` falls back to ``default`` when ``VAR`` is unset or
empty, and ``$$`` is a literal ``$``. Built-in variables (``FLOE_PROJECT_DIR``) take precedence
over the environment. A value that lands in a secret-looking field (``password: ${PG_PW}``), or
comes from a secret-looking variable, is :func:`~floe_core.redact.remember`-ed so the CLI masks
it in everything it prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from floe_core._validation import Problem, format_loc, problem_for, yaml_kind
from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_core.redact import is_secret_name, remember

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_FILE_BYTES",
    "ConfigFileError",
    "Problem",
    "format_loc",
    "interpolate",
    "read_yaml",
    "validate_file",
]

_M = TypeVar("_M", bound=BaseModel)
_TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest config file read (16 MiB; a floe.yaml of 20,000 sources is about 2 MiB)."""
MAX_ALIAS_NODES = 10_000
"""How many nodes YAML aliases may add to a file once expanded (anchors reused, not copied)."""
SECRET_NOT_FOUND_ERROR = "secret_not_found"
"""The pydantic error type a validator raises when a secret reference cannot be resolved."""


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


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster


class _StrictLoader(_SafeLoader):  # type: ignore[misc]
    """A safe loader that rejects a key given twice in one mapping."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<: *base' merges; construct_mapping flattens it
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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigFileError.of(
                path,
                [Problem("", f"{what} is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")],
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError.of(path, [Problem("", f"cannot read {what}: {exc}")]) from None
    try:
        data = _parse(text, path)
    except RecursionError:
        raise ConfigFileError.of(path, [Problem("", f"{what} is nested too deeply")]) from None
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
                    f"not a {yaml_kind(data)}",
                )
            ],
        )
    return data


def _parse(text: str, path: Path) -> Any:
    """Compose the YAML, check its aliases, then construct it.

    Raises:
        ConfigFileError: Aliases expand too far or refer to themselves.
        yaml.YAMLError: The text is not YAML.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node, path)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_aliases(root: yaml.Node, path: Path) -> None:
    """Refuse aliases that expand past :data:`MAX_ALIAS_NODES` or contain themselves.

    An alias is the very node of its anchor, so the composed graph stays small; the cost comes
    later, when the data is copied (interpolation, validation). The expanded size is counted
    once per distinct node, so this check is linear in the file.
    """
    sizes: dict[int, int] = {}
    on_path = {id(root)}
    stack: list[tuple[yaml.Node, list[yaml.Node], int]] = [(root, _children(root), 0)]
    while stack:
        node, children, position = stack[-1]
        if position < len(children):
            stack[-1] = (node, children, position + 1)
            child = children[position]
            if id(child) in on_path:
                raise ConfigFileError.of(
                    path,
                    [
                        Problem(
                            "",
                            f"line {child.start_mark.line + 1}: a YAML alias "
                            "refers to a node that contains it (recursive alias)",
                        )
                    ],
                )
            if id(child) not in sizes:
                on_path.add(id(child))
                stack.append((child, _children(child), 0))
            continue
        stack.pop()
        on_path.discard(id(node))
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
    extra = sizes[id(root)] - len(sizes)
    if extra > MAX_ALIAS_NODES:
        raise ConfigFileError.of(
            path,
            [
                Problem(
                    "",
                    f"YAML aliases expand to {extra:,} extra nodes; the limit is "
                    f"{MAX_ALIAS_NODES:,} (write the repeated parts out, or reuse fewer)",
                )
            ],
        )


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
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")

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
            found = default
        if found is not None and (is_secret_name(field) or is_secret_name(name)):
            remember(found)
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
        problems = [problem_for(model, err, prefix) for err in errors]
        secret = any(err["type"] == SECRET_NOT_FOUND_ERROR for err in errors)
        raise ConfigFileError.of(
            file, problems, code=ErrorCode.SECRET_NOT_FOUND if secret else None
        ) from None
