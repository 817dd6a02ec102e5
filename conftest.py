"""Root fixtures for every test folder: the shared floe fixtures and the network guard.

- ``floe_testing.fixtures``: the embedded catalog, SeaweedFS (REST catalog + S3) and friends.
- ``floe_testing.network``: an autouse guard failing any test that connects outside 127.0.0.0/8
  or ``::1`` (subprocesses such as SeaweedFS are out of its reach; see its docstring).
"""

pytest_plugins = ["floe_testing.fixtures", "floe_testing.network"]
