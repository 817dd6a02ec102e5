"""The dlt plugin's health check: dlt importable and the catalog answering, within a deadline."""

from __future__ import annotations

import threading
import time
from typing import Any

from floe_core import CatalogConfig, HealthState, HealthStatus, IngestionError
from floe_ingestion_dlt._errors import translate

__all__ = ["check_health"]

_DEFAULT_HEALTH_TIMEOUT = 10.0


def check_health(catalog_config: CatalogConfig, timeout: float | None = None) -> HealthStatus:
    """Import dlt and list the catalog's namespaces in a worker thread, up to ``timeout``.

    Args:
        catalog_config: The catalog the plugin writes to.
        timeout: Seconds to wait (default 10); a probe still running then is UNHEALTHY.

    Returns:
        HEALTHY with the dlt version and namespace count, or UNHEALTHY with the phase that
        did not answer or the translated error's message and code.
    """
    deadline = timeout if timeout is not None else _DEFAULT_HEALTH_TIMEOUT
    outcome: dict[str, Any] = {"phase": "importing dlt and pyiceberg (startup() does it once)"}

    def probe() -> None:
        try:
            import dlt

            from floe_iceberg import load_catalog

            outcome["phase"] = f"connecting to the {catalog_config.type} catalog"
            catalog = load_catalog(catalog_config)
            namespaces = catalog.list_namespaces()
            outcome["ok"] = {"dlt_version": dlt.__version__, "namespaces": len(namespaces)}
        except BaseException as exc:
            outcome["error"] = translate(exc, side="destination")

    started = time.monotonic()
    worker = threading.Thread(target=probe, name="floe-dlt-health", daemon=True)
    worker.start()
    worker.join(max(deadline, 0.0))
    elapsed = round(time.monotonic() - started, 3)
    if worker.is_alive():
        return HealthStatus(
            HealthState.UNHEALTHY,
            f"no answer within {deadline:g}s while {outcome['phase']}",
            {"catalog_type": catalog_config.type, "elapsed_seconds": elapsed},
        )
    if "error" in outcome:
        error: IngestionError = outcome["error"]
        return HealthStatus(
            HealthState.UNHEALTHY,
            error.message,
            {"catalog_type": catalog_config.type, "code": str(error.code)},
        )
    return HealthStatus(
        HealthState.HEALTHY,
        "dlt importable and catalog reachable",
        {"catalog_type": catalog_config.type, "elapsed_seconds": elapsed, **outcome["ok"]},
    )
