import subprocess
import sys

import floe_core


def test_all_lists_exactly_the_public_names() -> None:
    eager = {
        name
        for name, value in vars(floe_core).items()
        if not name.startswith("_") and not isinstance(value, type(floe_core))
    } - {"TYPE_CHECKING", "Any"}
    lazy = set(floe_core._LAZY)
    assert set(floe_core.__all__) == eager | lazy
    for name in floe_core.__all__:
        assert getattr(floe_core, name) is not None


def test_importing_floe_core_stays_cheap() -> None:
    code = (
        "import sys, floe_core; "
        "print(sorted(m for m in ('structlog', 'openlineage', 'floe_core.runner', 'click') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute() -> None:
    try:
        floe_core.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
