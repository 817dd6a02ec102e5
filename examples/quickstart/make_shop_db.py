"""Generate shop.db, the quickstart's offline source: a small, deterministic SQLite shop.

Run from anywhere: ``uv run python examples/quickstart/make_shop_db.py``. It rewrites shop.db
next to this file with 200 customers and 2,000 orders (the same bytes every time).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = datetime(2025, 1, 1, 8, 0, 0)
STATUSES = ["placed", "paid", "shipped", "delivered", "returned"]
CITIES = ["Praha", "Zürich", "São Paulo", "Kraków", "Reykjavík", "Osaka", "Lyon", "Austin"]


def build(path: Path, *, customers: int = 200, orders: int = 2000, seed: int = 7) -> None:
    """Write the database at ``path`` (replacing it)."""
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE customers (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                city TEXT,
                signed_up DATE NOT NULL,
                updated_at TIMESTAMP NOT NULL
            );
            CREATE TABLE orders (
                id INTEGER PRIMARY KEY,
                customer_id INTEGER NOT NULL REFERENCES customers (id),
                status TEXT NOT NULL,
                amount NUMERIC(10, 2) NOT NULL,
                quantity INTEGER NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL
            );
            """
        )
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
            [
                (
                    i,
                    f"Customer {i:03d}",
                    rng.choice(CITIES),
                    (START - timedelta(days=rng.randint(1, 900))).date().isoformat(),
                    (START + timedelta(minutes=i)).isoformat(sep=" "),
                )
                for i in range(1, customers + 1)
            ],
        )
        rows = []
        for i in range(1, orders + 1):
            created = START + timedelta(minutes=7 * i)
            amount = Decimal(rng.randint(199, 99_999)) / 100
            rows.append(
                (
                    i,
                    rng.randint(1, customers),
                    rng.choice(STATUSES),
                    str(amount),
                    rng.randint(1, 5),
                    created.isoformat(sep=" "),
                    (created + timedelta(hours=rng.randint(0, 48))).isoformat(sep=" "),
                )
            )
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")


if __name__ == "__main__":
    target = HERE / "shop.db"
    build(target)
    print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")
