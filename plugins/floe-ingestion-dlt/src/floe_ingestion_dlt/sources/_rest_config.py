"""``rest_api``: dlt's declarative REST API source, built from the plain YAML mapping.

floe's ``incremental.cursor_field`` becomes each endpoint's ``incremental`` block
(``cursor_path`` + ``initial_value``): dlt then filters rows client-side and keeps the cursor. An
endpoint that already declares its own ``incremental`` block (with ``start_param`` to filter on
the server) or an ``{type: incremental}`` query param keeps it unchanged. A load window
(``partitions``) replaces the cursor: each endpoint gets an ``incremental`` block bounded by the
window (``initial_value``/``end_value``, ISO ``Z`` text), sent as the query parameters its
``window_params: {start: since, end: until}`` names, and dlt keeps only the window's rows.

Every request is made **once**, with a bounded timeout (``request_timeout_seconds``): the client
is a plain dlt ``Session`` without dlt's retry wrapper (which would otherwise try each request 5
times, 60 s each, before floe's own retry policy even sees the failure). Retries, backoff and
``Retry-After`` belong to floe's runner, which gets the categorised error.

dlt's configuration errors are rewritten to name the YAML path, the unexpected field and the
closest allowed one; resolved secret values never appear in them.
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from floe_core import IngestionConfig, PipelineConfigurationError
from floe_core.redact import mask_values
from floe_ingestion_dlt._window import iso_z

if TYPE_CHECKING:
    from floe_ingestion_dlt.sources.rest_api import RestApiSourceConfig

__all__ = ["mask_secrets", "rest_source"]

_PAGINATOR_CONFIGS = {
    "json_link": "JSONLinkPaginatorConfig",
    "json_response": "JSONResponseCursorPaginatorConfig",
    "cursor": "JSONResponseCursorPaginatorConfig",
    "header_link": "HeaderLinkPaginatorConfig",
    "header_cursor": "HeaderCursorPaginatorConfig",
    "offset": "OffsetPaginatorConfig",
    "page_number": "PageNumberPaginatorConfig",
}
_AUTH_CONFIGS = {
    "bearer": "BearerTokenAuthConfig",
    "api_key": "ApiKeyAuthConfig",
    "http_basic": "HttpBasicAuthConfig",
    "oauth2_client_credentials": "OAuth2ClientCredentialsConfig",
}
_MAPPINGS_BY_KEY = {
    "client": "ClientConfig",
    "endpoint": "Endpoint",
    "resource_defaults": "EndpointResourceBase",
    "incremental": "IncrementalConfig",
}
_PROVIDED_VALUE = re.compile(r"\.?\s*Provided value .*$", re.DOTALL)
_NOT_ONE_OF = re.compile(r"`[^`=]+=(.*?)` is not one of: (\[.*\])")
_FIELDS_IN_MESSAGE = re.compile(r"(unexpected|missing required) fields `(\{.*?\})`")


def _has_window_params(resource: Any) -> bool:
    endpoint = resource.get("endpoint") if isinstance(resource, dict) else None
    return isinstance(endpoint, dict) and "window_params" in endpoint


def _has_own_incremental(endpoint: dict[str, Any]) -> bool:
    if endpoint.get("incremental"):
        return True
    params = endpoint.get("params") or {}
    return any(isinstance(v, dict) and v.get("type") == "incremental" for v in params.values())


def _windowed(config: IngestionConfig, resource: Any, default_params: Any) -> Any:
    """Point a resource's endpoint at ``config.window``: dlt sends and filters the bounds.

    ``endpoint.window_params`` (``{start: since, end: until}``, falling back to
    ``resource_defaults``) names the query parameters that carry the window to the server;
    without it the whole endpoint is read and dlt keeps only the window's rows.
    """
    window = config.window
    if isinstance(resource, str):
        resource = {"name": resource, "endpoint": {"path": resource}}
    endpoint = resource.get("endpoint")
    if endpoint is None or isinstance(endpoint, str):
        endpoint = {"path": endpoint or resource.get("name")}
        resource["endpoint"] = endpoint
    params = endpoint.pop("window_params", None) or default_params or {}
    if window is None:
        return resource
    incremental: dict[str, Any] = {
        "cursor_path": window.column,
        "initial_value": iso_z(window.start),
        "end_value": iso_z(window.end),
        "range_start": "closed",
        "range_end": "open",
    }
    if params.get("start"):
        incremental["start_param"] = params["start"]
    if params.get("end"):
        incremental["end_param"] = params["end"]
    endpoint["incremental"] = incremental
    return resource


def _dlt_config(config: IngestionConfig, source: RestApiSourceConfig) -> dict[str, Any]:
    resources: list[Any] = []
    defaults = copy.deepcopy(source.resource_defaults) if source.resource_defaults else None
    default_endpoint = (defaults or {}).get("endpoint")
    default_params = None
    if isinstance(default_endpoint, dict):
        default_params = default_endpoint.pop("window_params", None)
    defaults_incremental = isinstance(default_endpoint, dict) and _has_own_incremental(
        default_endpoint
    )
    for resource in copy.deepcopy(source.resources):
        if config.window is not None or _has_window_params(resource):
            resources.append(_windowed(config, resource, default_params))
            continue
        if config.incremental is not None and not defaults_incremental:
            if isinstance(resource, str):
                resource = {"name": resource, "endpoint": {"path": resource}}
            endpoint = resource.get("endpoint")
            if endpoint is None or isinstance(endpoint, str):
                endpoint = {"path": endpoint or resource.get("name")}
                resource["endpoint"] = endpoint
            if not _has_own_incremental(endpoint):
                endpoint["incremental"] = {
                    "cursor_path": config.incremental.cursor_field,
                    "initial_value": config.incremental.initial_value,
                }
        resources.append(resource)
    out: dict[str, Any] = {"client": copy.deepcopy(source.client), "resources": resources}
    if defaults is not None:
        out["resource_defaults"] = defaults
    return out


def _session(source: RestApiSourceConfig) -> Any:
    """A requests session that tries once, with the configured timeout (floe retries)."""
    from dlt.sources.helpers.requests.session import Session

    return Session(timeout=source.request_timeout_seconds, raise_for_status=False)


def rest_source(config: IngestionConfig, source: RestApiSourceConfig) -> Any:
    """Build dlt's REST API source (no request is made).

    Args:
        config: The source.
        source: Its validated rest_api config (secrets in place).

    Returns:
        The ``DltSource``.

    Raises:
        PipelineConfigurationError: dlt rejects the configuration (YAML path, field and the
            closest allowed field named; secret values masked).
    """
    from dlt.common.exceptions import DictValidationException
    from dlt.sources.rest_api import rest_api_source

    dlt_config = _dlt_config(config, source)
    secrets = _secret_values(config)
    try:
        dlt_config["client"]["session"] = _session(source)
        built = rest_api_source(
            dlt_config,  # type: ignore[arg-type]
            name=config.name.replace("-", "_"),
        )
    except DictValidationException as exc:
        dlt_config["client"].pop("session", None)
        field, problem = _explain(exc, dlt_config)
        raise PipelineConfigurationError(
            f"source {config.name!r} (rest_api): {mask_secrets(problem, secrets)}",
            source=config.name,
            details={"field": field},
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise PipelineConfigurationError(
            f"source {config.name!r} (rest_api): invalid configuration: "
            f"{mask_secrets(_first_line(str(exc)), secrets)}",
            source=config.name,
        ) from None
    return built


def _secret_values(config: IngestionConfig) -> list[str]:
    values = {secret.get_secret_value() for secret in config.secrets.values()}
    return sorted((v for v in values if v), key=len, reverse=True)


def mask_secrets(text: str, secrets: list[str]) -> str:
    """Replace every resolved secret value in ``text`` with ``floe_core.redact.MASK``.

    Args:
        text: A message built from dlt's text.
        secrets: The source's resolved secret values.

    Returns:
        The masked text.
    """
    return mask_values(text, secrets)


def _first_line(text: str) -> str:
    text = _PROVIDED_VALUE.sub("", text)  # dlt echoes the offending value: never repeat it
    return text.splitlines()[0][:300] if text else text


def _yaml_path(dlt_path: str, field: str | None = None) -> str:
    """``./client/paginator`` → ``config.client.paginator`` (plus the field)."""
    parts = [p for p in dlt_path.removeprefix(".").split("/") if p]
    if field:
        parts.append(field)
    return ".".join(["config", *parts])


def _value_at(config: Mapping[str, Any], dlt_path: str) -> Any:
    node: Any = config
    for part in (p for p in dlt_path.removeprefix(".").split("/") if p):
        name, _, index = part.partition("[")
        node = node.get(name) if isinstance(node, Mapping) else None
        if index and isinstance(node, list):
            position = int(index.rstrip("]"))
            node = node[position] if position < len(node) else None
    return node


def _typed_dict(name: str) -> Any:
    from dlt.sources.rest_api import typing as rest_typing

    return getattr(rest_typing, name, None)


def _leaves(exc: Any) -> list[Any]:
    nested = getattr(exc, "nested_exceptions", None) or []
    if not nested:
        return [exc]
    return [leaf for child in nested for leaf in _leaves(child)]


def _allowed(cls: Any) -> tuple[list[str], set[str]]:
    return list(getattr(cls, "__annotations__", {})), set(getattr(cls, "__required_keys__", ()))


def _field_problem(
    path: str, value: Mapping[str, Any], cls: Any, what: str
) -> tuple[str, str] | None:
    """Compare a mapping with the TypedDict dlt expects there; None if it fits."""
    allowed, required = _allowed(cls)
    unexpected = [key for key in value if key not in allowed]
    if unexpected:
        key = str(unexpected[0])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return (
            _yaml_path(path, key),
            f"{_yaml_path(path, key)}: unexpected field {key!r} for {what}; {hint}"
            f"allowed fields are {', '.join(allowed)}",
        )
    missing = sorted(required - set(value))
    if missing:
        return (
            _yaml_path(path, missing[0]),
            f"{_yaml_path(path)}: {what} needs field(s) {', '.join(map(repr, missing))}",
        )
    return None


def _leaf_problem(exc: Any, class_name: str) -> tuple[str, str] | None:
    """The problem dlt found inside the config class the declared ``type`` selects."""
    for leaf in _leaves(exc):
        if getattr(getattr(leaf, "expected_type", None), "__name__", None) != class_name:
            continue
        where = _yaml_path(str(leaf.path or "."), leaf.field)
        match = _NOT_ONE_OF.search(str(leaf.msg))
        if match:
            options = ast.literal_eval(match.group(2))
            close = difflib.get_close_matches(match.group(1), [str(o) for o in options], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return where, (
                f"{where}: {match.group(1)!r} is not one of {', '.join(map(str, options))}{hint}"
            )
        return where, f"{where}: {_first_line(str(leaf.msg))}"
    return None


def _explain(exc: Any, dlt_config: Mapping[str, Any]) -> tuple[str, str]:
    """Turn dlt's (nested) DictValidationException into (YAML field path, message)."""
    path, field = str(getattr(exc, "path", "") or "."), getattr(exc, "field", None)
    value = _value_at(dlt_config, path + (f"/{field}" if field else ""))
    kind = {"paginator": _PAGINATOR_CONFIGS, "auth": _AUTH_CONFIGS}.get(str(field))
    if kind is not None:
        where = _yaml_path(path, field)
        declared = value.get("type") if isinstance(value, Mapping) else value
        if isinstance(declared, str) and declared in kind:
            if isinstance(value, Mapping):
                found = _field_problem(
                    f"{path}/{field}", value, _typed_dict(kind[declared]), f"{field} {declared!r}"
                ) or _leaf_problem(exc, kind[declared])
                if found is not None:
                    return found
        elif isinstance(declared, str) or (isinstance(value, Mapping) and "type" in value):
            close = difflib.get_close_matches(str(declared), list(kind), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return where, (
                f"{where}: unknown {field} type {declared!r}; {hint}use one of {', '.join(kind)}"
            )
        elif isinstance(value, Mapping):
            # no type given (dlt then infers it for some auths): the closest config class
            best: tuple[str, str] | None = None
            for name in dict.fromkeys(kind.values()):
                found = _field_problem(f"{path}/{field}", value, _typed_dict(name), str(field))
                if found is None:
                    best = None
                    break
                if best is None:
                    best = found
            if best is not None:
                return best
        else:
            return where, (
                f"{where}: expected a mapping with 'type' (one of {', '.join(kind)}), not a "
                f"{type(value).__name__}"
            )
    for leaf in _leaves(exc):
        leaf_path = str(getattr(leaf, "path", "") or ".")
        match = _FIELDS_IN_MESSAGE.search(str(getattr(leaf, "msg", "")))
        leaf_value = _value_at(dlt_config, leaf_path)
        last = leaf_path.rsplit("/", 1)[-1].partition("[")[0]
        class_name = _MAPPINGS_BY_KEY.get(last) or (
            "EndpointResource" if last == "resources" else None
        )
        if match and class_name and isinstance(leaf_value, Mapping):
            found = _field_problem(leaf_path, leaf_value, _typed_dict(class_name), last)
            if found is not None:
                return found
        if match:
            fields = sorted(str(f) for f in ast.literal_eval(match.group(2)))
            return _yaml_path(leaf_path), (
                f"{_yaml_path(leaf_path)}: {match.group(1)} field(s) {', '.join(fields)}"
            )
    where = _yaml_path(path, field)
    return where, f"{where}: {_first_line(str(getattr(exc, 'msg', '') or exc))}"
