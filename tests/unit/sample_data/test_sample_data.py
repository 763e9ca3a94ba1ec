"""The shipped sample data: generator determinism, manifest versus files, the one bad file."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_data"
GENERATOR = REPO / "scripts" / "generate_sample_data.py"


def load_generator() -> ModuleType:
    """Import scripts/generate_sample_data.py (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_sample_data", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve their string annotations through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below root by its relative key."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def text_of(key: str, data: bytes) -> str:
    """Decompressed text of one object."""
    return (gzip.decompress(data) if key.endswith(".gz") else data).decode("utf-8")


def rows_of(key: str, root: Path = SAMPLE) -> list[dict[str, str]]:
    """Data rows of one shipped CSV object (header excluded)."""
    return list(csv.DictReader(io.StringIO(text_of(key, (root / key).read_bytes()), newline="")))


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((SAMPLE / "manifest.json").read_text())


@pytest.fixture(scope="module")
def good_lines(manifest: dict) -> list[dict[str, str]]:
    return [row for entry in manifest["sales"]["files"] for row in rows_of(entry["key"])]


def test_generator_is_deterministic_and_reproduces_the_shipped_files(tmp_path: Path) -> None:
    generator = load_generator()
    first = generator.generate(tmp_path / "a")
    second = generator.generate(tmp_path / "b")
    assert first == second
    generated = files_under(tmp_path / "a")
    assert generated == files_under(tmp_path / "b")
    shipped = files_under(SAMPLE)
    assert set(generated) == set(shipped)
    # Compare text, not bytes, for gzip objects: another zlib build may compress differently.
    for key, data in generated.items():
        assert text_of(key, data) == text_of(key, shipped[key]), key


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generator = load_generator()
    other = generator.generate(tmp_path, seed=7)
    assert other["seed"] == 7
    assert (
        other["sales"]["total_net_amount"]
        != json.loads((SAMPLE / "manifest.json").read_text())["sales"]["total_net_amount"]
    )


def test_gzip_objects_have_a_fixed_mtime(manifest: dict) -> None:
    compressed = [entry["key"] for entry in manifest["sales"]["files"] if entry["gzip"]]
    assert compressed
    for key in compressed:
        assert key.endswith(".csv.gz")
        header = (SAMPLE / key).read_bytes()[:10]
        assert header[:2] == b"\x1f\x8b"
        assert header[4:8] == b"\x00\x00\x00\x00", key


def test_sample_data_stays_small() -> None:
    assert sum(len(data) for data in files_under(SAMPLE).values()) < 5 * 1024 * 1024


def test_manifest_lists_every_object(manifest: dict) -> None:
    listed = {entry["key"] for entry in manifest["sales"]["files"]}
    listed |= {manifest["bad_file"]["key"], manifest["reference"]["stores"]["key"]}
    listed.add(manifest["reference"]["products"]["key"])
    assert set(files_under(SAMPLE)) - {"manifest.json"} == listed
    assert all(key.startswith("sales/2026/11/") for key in listed if key.startswith("sales/"))


def test_reference_counts_and_keys(manifest: dict) -> None:
    stores = rows_of(manifest["reference"]["stores"]["key"])
    products = rows_of(manifest["reference"]["products"]["key"])
    assert len(stores) == manifest["reference"]["stores"]["rows"] == 50
    assert len(products) == manifest["reference"]["products"]["rows"] == 500
    assert len({row["store_id"] for row in stores}) == len(stores)
    assert len({row["product_sku"] for row in products}) == len(products)
    assert len({row["category"] for row in products}) == manifest["reference"]["products"]["categories"]
    assert any('"' in row["product_name"] or "," in row["product_name"] for row in products)


def test_manifest_per_file_counts(manifest: dict) -> None:
    files = manifest["sales"]["files"]
    assert len(files) >= 6
    for entry in files:
        rows = rows_of(entry["key"])
        assert len(rows) == entry["rows"], entry["key"]
        assert len({row["order_id"] for row in rows}) == entry["orders"], entry["key"]
        net = sum((net_amount(row) for row in rows), Decimal(0))
        assert str(net) == entry["net_amount"], entry["key"]
        assert {row["order_ts"][:10] for row in rows} == {entry["business_date"]}
        assert entry["key"].startswith("sales/" + entry["business_date"].replace("-", "/") + "/")


def net_amount(row: dict[str, str]) -> Decimal:
    """quantity * unit_price - discount, as the merge computes it."""
    return int(row["quantity"]) * Decimal(row["unit_price"]) - Decimal(row["discount"])


def test_manifest_totals(manifest: dict, good_lines: list[dict[str, str]]) -> None:
    sales = manifest["sales"]
    assert len(good_lines) == sales["total_rows"]
    assert sales["total_rows"] >= 30_000
    assert len({row["order_id"] for row in good_lines}) == sales["distinct_orders"]
    assert (
        len({row["customer_id"] for row in good_lines if row["customer_id"]}) == sales["distinct_customers"]
    )
    assert sum(int(row["quantity"]) for row in good_lines) == sales["total_units"]
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for row in good_lines:
        by_day[row["order_ts"][:10]] += net_amount(row)
    assert {day: str(amount) for day, amount in by_day.items()} == sales["net_amount_by_day"]
    assert str(sum(by_day.values(), Decimal(0))) == sales["total_net_amount"]


def test_manifest_net_amount_by_category(manifest: dict, good_lines: list[dict[str, str]]) -> None:
    category = {
        row["product_sku"]: row["category"] for row in rows_of(manifest["reference"]["products"]["key"])
    }
    by_category: dict[str, Decimal] = defaultdict(Decimal)
    for row in good_lines:
        by_category[category[row["product_sku"]]] += net_amount(row)
    assert {name: str(amount) for name, amount in by_category.items()} == manifest["sales"][
        "net_amount_by_category"
    ]


def test_good_lines_pass_the_merge_validation(manifest: dict, good_lines: list[dict[str, str]]) -> None:
    stores = {row["store_id"] for row in rows_of(manifest["reference"]["stores"]["key"])}
    products = {row["product_sku"] for row in rows_of(manifest["reference"]["products"]["key"])}
    keys = [(row["order_id"], row["line_number"]) for row in good_lines]
    assert len(set(keys)) == len(keys)
    for row in good_lines:
        quantity, price, discount = int(row["quantity"]), Decimal(row["unit_price"]), Decimal(row["discount"])
        assert quantity > 0 and price >= 0 and 0 <= discount <= quantity * price, row
        assert row["currency"] == manifest["currency"] == "USD"
        assert row["store_id"] in stores and row["product_sku"] in products
        assert price == price.quantize(Decimal("0.01")) and discount == discount.quantize(Decimal("0.01"))


def test_bad_file_has_exactly_the_error_the_manifest_names(manifest: dict) -> None:
    bad = manifest["bad_file"]
    assert bad["key"] == "sales/2026/11/07/sales_store_bad.csv"
    assert bad["column"] == "quantity"
    lines = (SAMPLE / bad["key"]).read_text().splitlines()
    assert len(lines) == bad["rows"] + 1
    rows = rows_of(bad["key"])
    not_numeric = [index for index, row in enumerate(rows, start=1) if not row["quantity"].isdigit()]
    assert not_numeric == [bad["bad_row"]]
    assert 1 < bad["bad_row"] < bad["rows"], "the bad row sits in the middle of the file"
    assert bad["bad_line"] == bad["bad_row"] + 1
    assert lines[bad["bad_line"] - 1].split(",")[6] == bad["value"] == rows[bad["bad_row"] - 1]["quantity"]
    assert rows[bad["bad_row"] - 1]["order_id"] == bad["order_id"]
    assert "quantity" in bad["reason"] and str(bad["bad_line"]) in bad["reason"]
    good_keys = {entry["key"] for entry in manifest["sales"]["files"]}
    assert bad["key"] not in good_keys
