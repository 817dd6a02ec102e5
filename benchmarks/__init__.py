"""floe against dlt and the physical floor: one command, one comparison table.

Run ``uv run --group bench python -m benchmarks --help``; see ``benchmarks/README.md``.
"""
