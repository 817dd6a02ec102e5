"""Root fixtures: the shared floe fixtures (embedded catalog, SeaweedFS) for every test folder."""

pytest_plugins = ["floe_testing.fixtures"]
