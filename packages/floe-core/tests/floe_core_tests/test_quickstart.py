"""The README's quickstart and ``.ci/run`` agree, and ``.ci/run`` finds uv on any machine.

``.ci/run`` runs here against a fake ``python3`` (and optionally a fake ``uv``) that only records
how it was called, so the bootstrap logic is checked without installing anything.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
CI_RUN = ROOT / ".ci" / "run"
TEST_COMMAND = "python3 -m uv run pytest"


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the Quickstart section has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_two_commands_that_need_no_uv_on_path() -> None:
    assert quickstart_commands() == [
        "python3 -m pip install uv && python3 -m uv run floe ingest examples/quickstart/floe.yaml",
        TEST_COMMAND,
    ]


def test_readme_tells_pep_668_systems_what_to_do() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "externally-managed-environment" in readme
    assert "pipx install uv" in readme and "python3 -m venv" in readme


FAKE_PYTHON = """#!/bin/sh
echo "python3 $*" >> "$FAKE_LOG"
case "$*" in
  "-m pip install --quiet --user uv")
    [ "$FAKE_PEP668" = 1 ] && { echo "error: externally-managed-environment" >&2; exit 1; }
    [ "$FAKE_PIP_SCRIPTS_ON_PATH" = 1 ] && { mkdir -p "$HOME/.local/bin"; cp "$FAKE_UV" \
      "$HOME/.local/bin/uv"; }
    ;;
  "-m uv "*) [ "$UV_FROZEN" = 1 ] || exit 3 ;;  # uv must never rewrite uv.lock in CI
esac
exit 0
"""
FAKE_UV = """#!/bin/sh
echo "uv $*" >> "$FAKE_LOG"
[ "$UV_FROZEN" = 1 ] || exit 3
"""


def run_ci(tmp_path: Path, *, uv_on_path: bool, pep668: bool, scripts_on_path: bool) -> list[str]:
    bin_dir, home, log = tmp_path / "bin", tmp_path / "home", tmp_path / "calls.log"
    bin_dir.mkdir()
    home.mkdir()
    fake_uv = tmp_path / "fake-uv"
    fake_uv.write_text(FAKE_UV)
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    for script in (fake_uv, bin_dir / "python3"):
        script.chmod(0o755)
    if uv_on_path:
        (bin_dir / "uv").write_bytes(fake_uv.read_bytes())
        (bin_dir / "uv").chmod(0o755)
    system = [d for d in ("/usr/bin", "/bin") if Path(d).is_dir()]
    assert not any((Path(d) / "uv").exists() for d in system), "a real uv in /usr/bin or /bin"
    env = {
        "PATH": os.pathsep.join([str(bin_dir), *system]),
        "HOME": str(home),
        "FAKE_LOG": str(log),
        "FAKE_UV": str(fake_uv),
        "FAKE_PEP668": "1" if pep668 else "0",
        "FAKE_PIP_SCRIPTS_ON_PATH": "1" if scripts_on_path else "0",
    }
    done = subprocess.run(
        ["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return log.read_text().splitlines()


def steps(uv: str) -> list[str]:
    return [
        f"{uv} --version",
        f"{uv} sync --all-packages",
        f"{uv} run ruff check .",
        f"{uv} run ruff format --check .",
        f"{uv} run mypy",
        f"{uv} run pytest --cov --cov-report=term:skip-covered",
        f"{uv} run python -m benchmarks --quick",
    ]


def test_ci_uses_uv_from_path_without_installing(tmp_path: Path) -> None:
    calls = run_ci(tmp_path, uv_on_path=True, pep668=False, scripts_on_path=False)
    assert calls == steps("uv")


@pytest.mark.parametrize(
    ("pep668", "scripts_on_path", "installs", "uv"),
    [
        (False, True, ["--user uv"], "uv"),
        (False, False, ["--user uv"], "python3 -m uv"),
        (True, False, ["--user uv", "--user --break-system-packages uv"], "python3 -m uv"),
    ],
    ids=["pip-user-on-path", "pip-user-not-on-path", "pep668-system-python"],
)
def test_ci_installs_uv_when_missing(
    tmp_path: Path, pep668: bool, scripts_on_path: bool, installs: list[str], uv: str
) -> None:
    calls = run_ci(tmp_path, uv_on_path=False, pep668=pep668, scripts_on_path=scripts_on_path)
    pip = [f"python3 -m pip install --quiet {args}" for args in installs]
    assert calls == [*pip, *steps(uv)]


def test_ci_runs_the_readme_test_command() -> None:
    """With uv not on PATH, CI's test step is literally the README's, plus coverage flags."""
    [test_step] = [s for s in steps("python3 -m uv") if " pytest" in s]
    assert test_step.startswith(TEST_COMMAND + " ")
    assert quickstart_commands()[1] == TEST_COMMAND
