"""floe-testing's own tests: pytester runs the contract suite against broken plugins."""

pytest_plugins = ["pytester"]
