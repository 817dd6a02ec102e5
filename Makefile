.PHONY: install format lint typecheck test bench quickstart

install:
	uv sync --all-packages

format:
	uv run ruff format .
	uv run ruff check --fix .

lint:
	uv run ruff check .
	uv run ruff format --check .

typecheck:
	uv run mypy

test:
	uv run pytest

bench:
	uv run python -m benchmarks

quickstart:
	uv run floe ingest examples/quickstart/floe.yaml
