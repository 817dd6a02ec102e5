"""floe-testing: the contract suite every floe ingestion plugin must pass.

Subclass :class:`IngestionPluginContract` in a ``Test*`` class and provide the ``plugin``,
``valid_config``, ``invalid_config`` and ``failing_config`` fixtures; see the README.
:class:`ReferencePlugin` is a teaching example that passes the suite.
"""

from floe_testing.contract import IngestionPluginContract
from floe_testing.distribution import write_distribution
from floe_testing.reference import ReferencePlugin, ReferencePluginConfig, StaticSourceConfig

__all__ = [
    "IngestionPluginContract",
    "ReferencePlugin",
    "ReferencePluginConfig",
    "StaticSourceConfig",
    "write_distribution",
]

__version__ = "0.1.0"
