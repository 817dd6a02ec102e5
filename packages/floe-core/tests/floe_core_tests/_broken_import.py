"""A plugin module whose import fails (for PLUGIN_LOAD_FAILED tests)."""

raise RuntimeError("boom while importing")
