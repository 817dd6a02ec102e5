"""Secret-valued config fields: a string (usually ``${VAR}``) or ``{secret_ref: ...}``.

Resolved while the file is validated, into a :class:`~pydantic.SecretStr`; the validation
context gives ``secrets_dir`` and ``environ`` (see :meth:`PlatformManifest.load
<floe_core.manifest.PlatformManifest.load>`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from floe_core._loader import SECRET_NOT_FOUND_ERROR
from floe_core.errors import PipelineConfigurationError
from floe_core.secret import SecretRef

__all__ = ["RequiredSecret", "Secret", "resolve_secret"]


def resolve_secret(value: Any, info: ValidationInfo) -> Any:
    """Turn ``{secret_ref: "env:NAME"}`` into the secret's value (a plain string passes)."""
    if not isinstance(value, dict):
        return value
    if set(value) != {"secret_ref"}:
        raise PydanticCustomError(
            "secret_value",
            "give a string (e.g. ${VAR}) or {secret_ref: 'env:NAME'} / "
            "{secret_ref: 'file:NAME'}, not a mapping with keys {keys}",
            {"keys": ", ".join(map(str, value))},
        )
    try:
        ref = SecretRef.model_validate(value["secret_ref"])
    except ValidationError as exc:
        raise PydanticCustomError(
            "secret_ref", "{message}", {"message": exc.errors()[0]["msg"]}
        ) from None
    context = info.context or {}
    try:
        return ref.resolve(secrets_dir=context.get("secrets_dir"), environ=context.get("environ"))
    except PipelineConfigurationError as exc:
        raise PydanticCustomError(
            SECRET_NOT_FOUND_ERROR, "{message}", {"message": exc.message}
        ) from None


Secret = Annotated[SecretStr | None, BeforeValidator(resolve_secret)]
"""A secret-valued field: a string or ``{secret_ref: ...}``, resolved while loading."""

RequiredSecret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
"""A secret-valued field that must be given (e.g. an OTLP header value)."""
