"""Generate the shipped retail-sales sample data (deterministic for a given seed).

Writes, under the output directory (default: ``sample_data/`` in the repository):

- ``reference/stores/stores.csv`` and ``reference/products/products.csv``: the store master
  and the product catalogue (``staging.stores`` and ``staging.products`` layouts);
- ``sales/2026/11/DD/pos_sales_2026110D.csv[.gz]``: one POS export per business day
  (``staging.sales_lines`` layout), some gzip-compressed;
- ``sales/2026/11/07/sales_store_bad.csv``: the one file a load must reject;
- ``manifest.json``: the facts a correct load produces, computed from the rows written.

Run: ``python scripts/generate_sample_data.py [--out DIR] [--seed N]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

DEFAULT_SEED = 20261101
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data"
CURRENCY = "USD"
CENT = Decimal("0.01")

STORE_COLUMNS = ("store_id", "store_name", "city", "region", "opened_on")
PRODUCT_COLUMNS = ("product_sku", "product_name", "category", "list_price")
SALES_COLUMNS = (
    "order_id",
    "line_number",
    "order_ts",
    "store_id",
    "product_sku",
    "customer_id",
    "quantity",
    "unit_price",
    "discount",
    "currency",
)

# (first business day, number of days, days whose export is gzip-compressed)
SALES_FIRST_DAY = dt.date(2026, 11, 1)
SALES_DAYS = 6
GZIP_DAYS = frozenset({3, 6})
BAD_DAY = dt.date(2026, 11, 7)
BAD_KEY = "sales/2026/11/07/sales_store_bad.csv"
BAD_QUANTITY = "two"

STORE_COUNT = 50
PRODUCT_COUNT = 500
CUSTOMER_COUNT = 9000
ORDERS_PER_DAY = 2700
BAD_FILE_ORDERS = 120
GUEST_SHARE = 0.3

CITIES: dict[str, tuple[str, ...]] = {
    "NORTHEAST": ("Boston", "Providence", "Hartford", "Albany", "Newark", "Philadelphia", "Pittsburgh"),
    "SOUTHEAST": ("Atlanta", "Charlotte", "Raleigh", "Nashville", "Orlando", "Tampa", "Richmond"),
    "MIDWEST": ("Chicago", "Columbus", "Indianapolis", "Milwaukee", "Minneapolis", "Detroit", "St. Louis"),
    "SOUTHWEST": ("Phoenix", "Tucson", "Albuquerque", "Austin", "Dallas", "San Antonio", "El Paso"),
    "WEST": ("Portland", "Seattle", "Sacramento", "San Jose", "Denver", "Salt Lake City", "Boise"),
}
NEIGHBOURHOODS = (
    "Downtown",
    "Riverside",
    "Northgate",
    "Westfield",
    "Eastside",
    "Old Town",
    "Lakeview",
    "Southpoint",
    "Hillcrest",
    "Market Square",
)
BRANDS = ("Green Valley", "Harvest Lane", "Blue Ridge", "Northwind", "Sunny Acres", "Everyday", "Cascade")

# category -> (items, each with the pack sizes it is sold in; (min, max) list price in dollars)
CATALOGUE: dict[str, tuple[dict[str, tuple[str, ...]], tuple[int, int]]] = {
    "Produce": (
        {
            "Gala Apples": ("3 lb bag", "each"),
            "Bananas": ("1 lb", "bunch"),
            "Baby Spinach": ("5 oz", "16 oz"),
            "Roma Tomatoes": ("1 lb", "2 lb"),
            "Avocados": ("each", "4 ct bag"),
            "Blueberries": ("6 oz", "18 oz"),
        },
        (1, 7),
    ),
    "Dairy": (
        {
            "Whole Milk": ("half gal", "1 gal"),
            "Greek Yogurt, Plain": ("5.3 oz", "32 oz"),
            "Cheddar Cheese": ("8 oz", "2 lb"),
            "Butter, Salted": ("8 oz", "1 lb"),
            "Cottage Cheese": ("16 oz", "24 oz"),
            "Large Eggs": ("dozen", "18 ct"),
        },
        (2, 9),
    ),
    "Bakery": (
        {
            "Sourdough Loaf": ("24 oz", "half loaf"),
            "Bagels": ("4 ct", "6 ct"),
            "Croissants": ("4 ct", "8 ct"),
            "Whole Wheat Bread": ("20 oz", "24 oz"),
            "Blueberry Muffins": ("4 ct", "6 ct"),
            "Flour Tortillas": ("10 ct", "20 ct"),
        },
        (2, 8),
    ),
    "Meat & Seafood": (
        {
            "Chicken Breast": ("1 lb", "family pack"),
            "Ground Beef 85/15": ("1 lb", "3 lb"),
            "Atlantic Salmon": ("12 oz", "2 lb"),
            "Pork Chops": ("1 lb", "family pack"),
            "Shrimp, Peeled": ("12 oz", "2 lb"),
            "Bacon": ("12 oz", "24 oz"),
        },
        (5, 24),
    ),
    "Pantry": (
        {
            "Spaghetti": ("16 oz", "2 lb"),
            "Jasmine Rice": ("2 lb", "5 lb"),
            "Olive Oil, Extra Virgin": ("500 ml", "1 l"),
            "Peanut Butter": ("16 oz", "40 oz"),
            "Black Beans": ("15 oz can", "4 pk"),
            "Rolled Oats": ("18 oz", "42 oz"),
        },
        (1, 15),
    ),
    "Beverages": (
        {
            "Orange Juice": ("52 oz", "89 oz"),
            "Sparkling Water": ("8 pk", "12 pk"),
            "Cold Brew Coffee": ("32 oz", "48 oz"),
            "Green Tea": ("20 ct", "40 ct"),
            "Cola": ("2 l", "12 pk"),
            "Lemonade": ("52 oz", "1 gal"),
        },
        (1, 12),
    ),
    "Frozen": (
        {
            '12" Thin Crust Pizza': ("1 ct", "2 ct"),
            "Vanilla Ice Cream": ("1.5 qt", "pint"),
            "Frozen Peas": ("12 oz", "32 oz"),
            "Fish Sticks": ("24 ct", "44 ct"),
            "Waffles": ("10 ct", "24 ct"),
            "Pork Dumplings": ("16 oz", "32 oz"),
        },
        (3, 11),
    ),
    "Household": (
        {
            "Paper Towels": ("6 roll", "12 roll"),
            "Dish Soap": ("24 oz", "38 oz"),
            "Laundry Detergent": ("50 oz", "100 oz"),
            "Trash Bags": ("45 ct", "90 ct"),
            "Sponges": ("3 pk", "6 pk"),
            "Aluminum Foil": ("75 sq ft", "200 sq ft"),
        },
        (3, 22),
    ),
    "Personal Care": (
        {
            "Toothpaste": ("4 oz", "2 pk"),
            "Shampoo": ("12 oz", "28 oz"),
            "Body Wash": ("18 oz", "30 oz"),
            "Deodorant": ("2.6 oz", "2 pk"),
            "Hand Soap": ("7.5 oz", "56 oz refill"),
            "Sunscreen SPF 50": ("3 oz", "8 oz"),
        },
        (2, 16),
    ),
    "Snacks": (
        {
            "Tortilla Chips": ("10 oz", "18 oz"),
            "Trail Mix": ("10 oz", "26 oz"),
            "Dark Chocolate Bar": ("3.5 oz", "4 pk"),
            "Pretzels": ("10 oz", "16 oz"),
            "Granola Bars": ("6 ct", "12 ct"),
            "Popcorn": ("3 pk", "6 pk"),
        },
        (2, 9),
    ),
}

LINES_PER_ORDER = (1, 2, 3, 4, 5, 6)
LINES_WEIGHTS = (20, 22, 20, 16, 12, 10)
QUANTITIES = (1, 2, 3, 4, 6, 12)
QUANTITY_WEIGHTS = (60, 22, 9, 5, 3, 1)


@dataclass(frozen=True)
class Store:
    """One row of the store master."""

    store_id: str
    store_name: str
    city: str
    region: str
    opened_on: dt.date
    weight: int

    def row(self) -> list[str]:
        """The CSV row."""
        return [self.store_id, self.store_name, self.city, self.region, self.opened_on.isoformat()]


@dataclass(frozen=True)
class Product:
    """One row of the product catalogue."""

    sku: str
    name: str
    category: str
    list_price: Decimal

    def row(self) -> list[str]:
        """The CSV row."""
        return [self.sku, self.name, self.category, str(self.list_price)]


@dataclass(frozen=True)
class SalesLine:
    """One order line of a POS export."""

    order_id: str
    line_number: int
    order_ts: dt.datetime
    store_id: str
    product: Product
    customer_id: str
    quantity: int
    unit_price: Decimal
    discount: Decimal

    @property
    def net_amount(self) -> Decimal:
        """quantity * unit_price - discount, as sales.fact_sales.net_amount computes it."""
        return self.quantity * self.unit_price - self.discount

    def row(self) -> list[str]:
        """The CSV row; a guest sale has an empty customer_id."""
        return [
            self.order_id,
            str(self.line_number),
            self.order_ts.strftime("%Y-%m-%d %H:%M:%S"),
            self.store_id,
            self.product.sku,
            self.customer_id,
            str(self.quantity),
            str(self.unit_price),
            str(self.discount),
            CURRENCY,
        ]


def build_stores(rng: random.Random) -> list[Store]:
    """The store master: STORE_COUNT stores spread over the regions."""
    places = [(region, city) for region, cities in CITIES.items() for city in cities]
    stores = []
    for number in range(1, STORE_COUNT + 1):
        region, city = places[(number - 1) % len(places)]
        neighbourhood = NEIGHBOURHOODS[rng.randrange(len(NEIGHBOURHOODS))]
        opened_on = dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(17 * 365))
        stores.append(
            Store(
                store_id=f"ST{number:03d}",
                store_name=f"Harvest Market {city} {neighbourhood}",
                city=city,
                region=region,
                opened_on=opened_on,
                weight=rng.randint(3, 10),
            )
        )
    return stores


def build_products(rng: random.Random) -> list[Product]:
    """The product catalogue: PRODUCT_COUNT products spread evenly over the categories."""
    categories = sorted(CATALOGUE)
    per_category = PRODUCT_COUNT // len(categories)
    products: list[Product] = []
    for category in categories:
        items, (low, high) = CATALOGUE[category]
        variants = [
            (brand, item, size) for brand in BRANDS for item, sizes in items.items() for size in sizes
        ]
        for brand, item, size in rng.sample(variants, per_category):
            cents = rng.randint(low * 100, high * 100)
            price = (Decimal(cents - cents % 10) + Decimal(9)) / 100
            sku = f"SKU-{100001 + len(products) * 7}"
            products.append(Product(sku, f"{brand} {item} {size}", category, price))
    return products


def build_day(
    rng: random.Random, day: dt.date, orders: int, stores: Sequence[Store], products: Sequence[Product]
) -> list[SalesLine]:
    """The order lines of one business day, ordered by time as a POS export is."""
    weights = [store.weight for store in stores]
    opening = dt.datetime.combine(day, dt.time(7, 0))
    drafts = []
    for _ in range(orders):
        store = rng.choices(stores, weights)[0]
        order_ts = opening + dt.timedelta(seconds=rng.randrange(16 * 3600))
        customer = "" if rng.random() < GUEST_SHARE else f"C{rng.randint(1, CUSTOMER_COUNT):07d}"
        line_count = rng.choices(LINES_PER_ORDER, LINES_WEIGHTS)[0]
        drafts.append((order_ts, store, customer, rng.sample(products, line_count)))
    drafts.sort(key=lambda draft: (draft[0], draft[1].store_id))

    lines = []
    sequence: dict[str, int] = defaultdict(int)
    for order_ts, store, customer, basket in drafts:
        sequence[store.store_id] += 1
        order_id = f"{store.store_id}-{day:%Y%m%d}-{sequence[store.store_id]:05d}"
        for line_number, product in enumerate(basket, start=1):
            quantity = rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0]
            unit_price = product.list_price
            if rng.random() < 0.12:
                unit_price = (unit_price * Decimal("0.8")).quantize(CENT)
            discount = Decimal("0.00")
            if rng.random() < 0.08:
                coupon = (Decimal(rng.choice((50, 75, 100, 150, 200, 300))) / 100).quantize(CENT)
                discount = min(coupon, quantity * unit_price)
            lines.append(
                SalesLine(
                    order_id,
                    line_number,
                    order_ts,
                    store.store_id,
                    product,
                    customer,
                    quantity,
                    unit_price,
                    discount,
                )
            )
    return lines


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """CSV with a header row, LF line ends and minimal quoting, as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no file name and a fixed mtime, so the bytes depend on the data only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as stream:
        stream.write(data)
    return buffer.getvalue()


def write(out_dir: Path, key: str, data: bytes) -> None:
    """Write one object under its S3 key."""
    path = out_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def money(amount: Decimal) -> str:
    """A decimal amount as a string with two places (JSON numbers would lose exactness)."""
    return str(amount.quantize(CENT))


def bad_file(rng: random.Random, stores: Sequence[Store], products: Sequence[Product]) -> tuple[bytes, dict]:
    """The file a load must reject: one non-numeric quantity in the middle of valid rows."""
    lines = build_day(rng, BAD_DAY, BAD_FILE_ORDERS, stores, products)
    rows = [line.row() for line in lines]
    bad_index = len(rows) // 2
    quantity_column = SALES_COLUMNS.index("quantity")
    rows[bad_index][quantity_column] = BAD_QUANTITY
    description = {
        "key": BAD_KEY,
        "rows": len(rows),
        "bad_row": bad_index + 1,
        "bad_line": bad_index + 2,
        "column": "quantity",
        "value": BAD_QUANTITY,
        "order_id": rows[bad_index][0],
        "reason": (
            f"non-numeric quantity {BAD_QUANTITY!r} on line {bad_index + 2} (data row {bad_index + 1} "
            f"of {len(rows)}): COPY cannot load it into INTEGER, so the whole file loads nothing "
            "and is quarantined"
        ),
    }
    return csv_bytes(SALES_COLUMNS, rows), description


def generate(out_dir: Path, seed: int = DEFAULT_SEED) -> dict:
    """Write the sample data under out_dir and return the manifest (also written as manifest.json)."""
    rng = random.Random(seed)
    stores = build_stores(rng)
    products = build_products(rng)
    stores_key = "reference/stores/stores.csv"
    products_key = "reference/products/products.csv"
    write(out_dir, stores_key, csv_bytes(STORE_COLUMNS, [store.row() for store in stores]))
    write(out_dir, products_key, csv_bytes(PRODUCT_COLUMNS, [product.row() for product in products]))

    files = []
    all_lines: list[SalesLine] = []
    for offset in range(SALES_DAYS):
        day = SALES_FIRST_DAY + dt.timedelta(days=offset)
        # Weekends (Saturday, Sunday) are busier.
        orders = ORDERS_PER_DAY * (5 if day.weekday() >= 5 else 4) // 4 + rng.randint(-150, 150)
        lines = build_day(rng, day, orders, stores, products)
        compressed = day.day in GZIP_DAYS
        key = f"sales/{day:%Y/%m/%d}/pos_sales_{day:%Y%m%d}.csv" + (".gz" if compressed else "")
        data = csv_bytes(SALES_COLUMNS, [line.row() for line in lines])
        write(out_dir, key, gzip_bytes(data) if compressed else data)
        files.append(
            {
                "key": key,
                "business_date": day.isoformat(),
                "gzip": compressed,
                "rows": len(lines),
                "orders": len({line.order_id for line in lines}),
                "net_amount": money(sum((line.net_amount for line in lines), Decimal(0))),
            }
        )
        all_lines.extend(lines)

    bad_data, bad_description = bad_file(rng, stores, products)
    write(out_dir, BAD_KEY, bad_data)

    net_by_day: dict[str, Decimal] = defaultdict(Decimal)
    net_by_category: dict[str, Decimal] = defaultdict(Decimal)
    for line in all_lines:
        net_by_day[line.order_ts.date().isoformat()] += line.net_amount
        net_by_category[line.product.category] += line.net_amount
    manifest = {
        "generator": "scripts/generate_sample_data.py",
        "seed": seed,
        "currency": CURRENCY,
        "reference": {
            "stores": {"key": stores_key, "rows": len(stores)},
            "products": {
                "key": products_key,
                "rows": len(products),
                "categories": len({product.category for product in products}),
            },
        },
        "sales": {
            "files": files,
            "total_rows": len(all_lines),
            "distinct_orders": len({line.order_id for line in all_lines}),
            "distinct_customers": len({line.customer_id for line in all_lines if line.customer_id}),
            "total_units": sum(line.quantity for line in all_lines),
            "total_net_amount": money(sum(net_by_day.values(), Decimal(0))),
            "net_amount_by_day": {day: money(amount) for day, amount in sorted(net_by_day.items())},
            "net_amount_by_category": {
                name: money(amount) for name, amount in sorted(net_by_category.items())
            },
        },
        "bad_file": bad_description,
    }
    write(out_dir, "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    manifest = generate(args.out, args.seed)
    sales = manifest["sales"]
    print(
        f"wrote {len(sales['files'])} sales files ({sales['total_rows']} rows, "
        f"{sales['distinct_orders']} orders), 1 bad file and the reference data to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
