import floe_core


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(floe_core).items()
        if not name.startswith("_") and not isinstance(value, type(floe_core))
    }
    assert set(floe_core.__all__) == public
    assert floe_core.__all__ == sorted(floe_core.__all__, key=lambda n: (not n.isupper(), n))
    for name in floe_core.__all__:
        assert getattr(floe_core, name) is not None
