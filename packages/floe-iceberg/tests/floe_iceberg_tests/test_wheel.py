"""The floe-core and floe-iceberg wheels alone make a working engine: the README example runs.

Builds both wheels with uv, installs only them (dependencies from the package index, through
``uv pip install``) into a fresh venv, runs the README's example there (taken from the README
text, so the two cannot drift) and checks what it prints; dlt must not be importable there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2]
REPO = PACKAGE.parents[1]
README = PACKAGE / "README.md"


def _block(text: str, marker: str) -> str:
    """Return the fenced block that follows ``<!-- marker`` in the README."""
    found = re.search(rf"<!-- {marker}\b[^>]*-->\s*```\w*\n(.*?)```", text, re.DOTALL)
    assert found, f"README.md has no fenced block after <!-- {marker} -->"
    return found.group(1)


def _uv() -> list[str]:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local" / "bin"))
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    pytest.fail("uv is needed to build the wheels: put it on PATH or pip install uv")


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_example_runs_from_the_two_wheels_alone(tmp_path: Path) -> None:
    readme = README.read_text()
    example = _block(readme, "readme-example")
    expected = _block(readme, "readme-output").splitlines()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    dist = tmp_path / "dist"
    for package in ("floe-core", "floe-iceberg"):
        _run(
            [*_uv(), "build", "--wheel", "--package", package, "--out-dir", str(dist)],
            cwd=REPO,
            env=env,
        )
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["floe_core", "floe_iceberg"]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    python = str(venv / "bin" / "python")
    # uv's installer (the same resolution as pip, from uv's cache when warm: seconds, not minutes)
    _run(
        [*_uv(), "pip", "install", "--quiet", "--python", python, *map(str, wheels)],
        cwd=tmp_path,
        env=env,
    )

    script = tmp_path / "example.py"
    script.write_text(example)
    out = _run([python, str(script)], cwd=tmp_path, env=env).splitlines()
    assert out[-len(expected) :] == expected

    where = _run(
        [
            python,
            "-c",
            "import importlib.util, floe_iceberg; print(floe_iceberg.__file__); "
            "print([m for m in ('dlt', 'floe_ingestion_dlt') if importlib.util.find_spec(m)])",
        ],
        cwd=tmp_path,
        env=env,
    ).splitlines()
    assert where[0].startswith(str(venv)), f"floe_iceberg came from {where[0]}, not the wheel"
    assert where[1] == "[]", f"importable in the engine-only venv: {where[1]}"
