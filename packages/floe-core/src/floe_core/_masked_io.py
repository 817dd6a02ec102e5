"""Masking everything a command prints: standard output, standard error and warnings (internal).

:func:`masked_output` activates a :class:`~floe_core.redact.SecretMasker` and, for the block,
replaces ``sys.stdout``/``sys.stderr`` with streams that mask its values in every write, and
shows ``warnings`` through the masked standard error. Logs configured inside the block
(:func:`~floe_core.log.configure_logging` with ``stream=sys.stderr``) write through it too.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from floe_core.redact import SecretMasker, redact_text

__all__ = ["masked_output"]


class _MaskingStream:
    """A text stream that masks secret values, then writes to ``target``.

    It has no ``buffer``, so nothing (click's ``echo``) writes bytes around it.
    """

    def __init__(self, target: TextIO, masker: SecretMasker) -> None:
        self._target = target
        self._masker = masker

    def write(self, text: str) -> int:
        self._target.write(self._masker.mask(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._target, name)


@contextmanager
def masked_output(masker: SecretMasker | None = None) -> Iterator[SecretMasker]:
    """Mask the values ``masker`` collects in all standard output, standard error and warnings.

    Args:
        masker: The masker to activate; a new one when None.

    Yields:
        The active masker (values resolved inside the block are added to it).
    """
    masker = masker if masker is not None else SecretMasker()
    stdout, stderr = sys.stdout, sys.stderr

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(redact_text(masker.mask(text)))

    with masker.active(), warnings.catch_warnings():
        warnings.showwarning = show
        sys.stdout = _MaskingStream(stdout, masker)
        sys.stderr = _MaskingStream(stderr, masker)
        try:
            yield masker
        finally:
            sys.stdout, sys.stderr = stdout, stderr
