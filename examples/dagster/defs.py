from floe_dagster import build_definitions

defs = build_definitions("floe.yaml", "platform-manifest.yaml")
