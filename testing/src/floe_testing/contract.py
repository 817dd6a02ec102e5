"""The ingestion plugin contract: :class:`IngestionPluginContract`, a base test class.

A plugin author subclasses it in a ``Test*`` class, sets :attr:`expected_entry_point` and
provides four fixtures; pytest then runs every rule below against the plugin::

    class TestMyPlugin(IngestionPluginContract):
        expected_entry_point = "my"          # or None when not installed via an entry point

        @pytest.fixture
        def plugin(self, tmp_path): ...      # a configured instance, not started
        @pytest.fixture
        def valid_config(self): ...          # an IngestionConfig that loads successfully
        @pytest.fixture
        def invalid_config(self): ...        # create_pipeline must raise CONFIGURATION
        @pytest.fixture
        def failing_config(self): ...        # create_pipeline succeeds, run fails
        @pytest.fixture
        def iceberg_catalog(self): ...       # the CatalogConfig the plugin writes to
                                             # (omit only for a plugin that writes no Iceberg)

Each test checks one rule and, when it breaks, fails with the rule's id, what happened and how
to fix it (``contract rule 'run.never-raises' broken: ...``). The rules:

=========================  ========================================================
``discovery.entry-point``  declared exactly once in the ``floe.ingestion`` group
``discovery.loads``        the registry loads the entry point to the plugin's class
``registry.accepts``       ``PluginRegistry.register`` accepts the class
``metadata.name``          ``name`` is a non-empty identifier
``metadata.version``       ``version`` is semver (``1.2.3``, ``1.2.3-rc.1``)
``metadata.api-version``   ``floe_api_version`` is compatible with this floe-core
``metadata.description``   ``description`` is a non-empty line
``abc.concrete``           a concrete subclass of ``IngestionPlugin``
``abc.is-external``        ``is_external`` is a bool
``abc.sources``            ``list_available_sources()`` is a non-empty list of str
``abc.config-schema``      ``get_config_schema()`` is a pydantic model class
``abc.destination``        ``get_destination_config`` is JSON, no secrets
``lifecycle.idempotent``   ``startup``/``shutdown`` twice each, shutdown without startup
``health.status``          ``health_check`` returns a ``HealthStatus``
``health.timeout``         ``health_check(timeout=t)`` returns within ``t`` + slack
``health.never-raises``    ``health_check`` never raises, whatever the state
``config.invalid``         ``create_pipeline(invalid)`` raises CONFIGURATION
``config.source-type``     an unknown ``source_type`` raises CONFIGURATION
``run.success``            ``run`` on the valid config succeeds with sane counts
``run.failure``            ``run`` on the failing config returns ``success=False``
``run.errors``             failure errors are categorised, ``retryable`` consistent
``run.never-raises``       ``run`` catches everything, even a foreign pipeline
``secrets.never-leak``     no secret in results, errors (an unknown source type's
                           too), health, logs, output, spans or warnings
``iceberg.read-back``      the tables hold ``rows_loaded`` rows; a re-run with nothing
                           new adds no rows and no snapshot (needs ``iceberg_catalog``)
=========================  ========================================================

Every plugin call the suite makes runs under a watchdog: a call that does not return within
``call_timeout`` (``run_timeout`` for ``run``) fails its test with the rule id and "did not
return within N s" instead of hanging the suite.
"""

from __future__ import annotations

from typing import ClassVar

from floe_testing._behaviour import BehaviourRules
from floe_testing._iceberg import IcebergRules
from floe_testing._leak import LeakRules
from floe_testing._surface import SurfaceRules

__all__ = ["IngestionPluginContract"]


class IngestionPluginContract(SurfaceRules, BehaviourRules, LeakRules, IcebergRules):
    """The behaviour every :class:`~floe_core.IngestionPlugin` must show.

    Subclass it in a class whose name starts with ``Test`` and provide, in that class or a
    ``conftest.py``:

    - ``plugin``: a configured plugin instance, not started (the suite starts and stops it).
    - ``valid_config``: an :class:`~floe_core.IngestionConfig` that runs successfully in your
      test environment.
    - ``invalid_config``: one whose ``create_pipeline`` must raise a CONFIGURATION error.
    - ``failing_config``: one for which ``create_pipeline`` succeeds and ``run`` fails.

    At least one of the three configs must carry a secret (``IngestionConfig.secrets``, a
    distinctive value of 8 characters or more), so :meth:`test_secrets_never_leak` can check
    it never leaves the plugin; a real failing config with a password is ideal.

    A plugin that writes Iceberg itself (every embedded one) also provides ``iceberg_catalog``:
    the :class:`~floe_core.CatalogConfig` it writes to, read back by the ``iceberg.read-back``
    rule; ``valid_config`` should then be incremental, so a re-run has nothing new to load.
    Without it the rule is skipped for an external plugin and broken for an embedded one.

    Attributes:
        expected_entry_point: The plugin's ``floe.ingestion`` entry-point name, or None for a
            plugin not installed through an entry point (the discovery rules are then skipped).
        health_check_timeout: The timeout :meth:`test_health_check_honours_timeout` passes.
        health_check_slack: Seconds allowed on top of the timeout before the rule breaks.
        call_timeout: Seconds the suite waits for any plugin call but ``run``.
        run_timeout: Seconds the suite waits for ``run``.
    """

    expected_entry_point: ClassVar[str | None]
    health_check_timeout: ClassVar[float] = 0.5
    health_check_slack: ClassVar[float] = 1.5
    call_timeout: ClassVar[float] = 30.0
    run_timeout: ClassVar[float] = 120.0
