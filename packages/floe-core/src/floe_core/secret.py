"""Secret references: where a secret lives, resolved only when a plugin needs the value.

A reference is written in YAML either as a mapping (``{env: PG_PASSWORD}`` or
``{file: pg-password}``) or as a short string (``env:PG_PASSWORD`` / ``file:pg-password``).
``file`` names a file in the secrets directory (Kubernetes-style mounted secrets; one file per
secret, trailing newline stripped). Values come back as :class:`pydantic.SecretStr`, whose
``repr`` and ``str`` are masked, so they never reach logs, spans, results or error messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from floe_core.errors import ErrorCode, PipelineConfigurationError
from floe_core.redact import remember

__all__ = ["SECRETS_DIR_ENV", "SecretRef", "default_secrets_dir"]

SECRETS_DIR_ENV = "FLOE_SECRETS_DIR"
"""Environment variable naming the directory of mounted secret files."""


_SHORT_FORM = (
    "a secret reference is 'env:NAME' (an environment variable) or 'file:NAME' (a file in the "
    "secrets directory), or a mapping {env: NAME} / {file: NAME}"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _inside(name: str) -> bool:
    """Whether ``name`` stays inside the secrets directory (no absolute path, no '..')."""
    path = PurePath(name)
    return not path.is_absolute() and not PureWindowsPath(name).anchor and ".." not in path.parts


def default_secrets_dir() -> Path | None:
    """Return the secrets directory from ``FLOE_SECRETS_DIR``, or None when unset."""
    value = os.environ.get(SECRETS_DIR_ENV)
    return Path(value) if value else None


class SecretRef(BaseModel):
    """Where a secret lives: an environment variable or a file in the secrets directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            kind, sep, name = value.partition(":")
            if not sep or kind not in ("env", "file") or not name:
                # Never echo the value: a ${VAR} meant as a reference may hold the secret itself.
                raise ValueError(_SHORT_FORM)
            return {kind: name}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference needs exactly one of 'env' or 'file'")
        if self.env is not None and not _ENV_NAME.match(self.env):
            raise ValueError(
                "env: takes an environment variable name (letters, digits and '_', not "
                "starting with a digit); " + _SHORT_FORM
            )
        if self.file is not None and not _inside(self.file):
            raise ValueError(
                "file: names a file inside the secrets directory: a relative path without "
                "'..' parts, e.g. file:pg-password"
            )
        return self

    def describe(self) -> str:
        """Return where the secret lives, e.g. ``env:PG_PASSWORD`` (never the value)."""
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"

    def resolve(
        self, *, secrets_dir: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> SecretStr:
        """Read the secret's value.

        Args:
            secrets_dir: Directory of mounted secret files; defaults to ``FLOE_SECRETS_DIR``.
            environ: Environment to read; defaults to ``os.environ``.

        Returns:
            The value, masked.

        Raises:
            PipelineConfigurationError: SECRET_NOT_FOUND when the variable or file is missing.
        """
        env = os.environ if environ is None else environ
        if self.env is not None:
            if self.env not in env:
                raise PipelineConfigurationError(
                    f"secret {self.describe()} is not set: export {self.env}=... "
                    "or point the reference at a file in the secrets directory",
                    code=ErrorCode.SECRET_NOT_FOUND,
                    details={"secret_ref": self.describe()},
                )
            return _remembered(env[self.env])
        assert self.file is not None
        directory = secrets_dir if secrets_dir is not None else default_secrets_dir()
        if directory is None:
            raise PipelineConfigurationError(
                f"secret {self.describe()} needs a secrets directory: set {SECRETS_DIR_ENV} "
                "or 'secrets_dir' in platform-manifest.yaml",
                code=ErrorCode.SECRET_NOT_FOUND,
                details={"secret_ref": self.describe()},
            )
        path = directory / self.file
        if not path.is_file():
            raise PipelineConfigurationError(
                f"secret {self.describe()} not found: no file {path}",
                code=ErrorCode.SECRET_NOT_FOUND,
                details={"secret_ref": self.describe(), "secrets_dir": str(directory)},
            )
        return _remembered(path.read_text(encoding="utf-8").rstrip("\r\n"))


def _remembered(value: str) -> SecretStr:
    """Wrap a resolved value, recording it for the CLI's output masking."""
    remember(value)
    return SecretStr(value)
