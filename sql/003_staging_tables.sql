-- File layouts. Each load creates a session temp copy, e.g.
--   CREATE TEMP TABLE sales_lines_batch (LIKE staging.sales_lines);
-- and COPYs one file into it, so concurrent loads never share a staging table.
-- Columns are typed so that COPY itself rejects a malformed value (e.g. a non-numeric quantity);
-- they stay nullable so that the merge procedures can name missing keys in their error message.
-- BACKUP NO: staging data can always be reloaded from S3.

-- s3://<landing>/sales/YYYY/MM/DD/<file>.csv[.gz]: one row per order line from the store POS export.
CREATE TABLE IF NOT EXISTS staging.sales_lines (
    order_id     VARCHAR(32),
    line_number  SMALLINT,
    order_ts     TIMESTAMP,
    store_id     VARCHAR(16),
    product_sku  VARCHAR(32),
    customer_id  VARCHAR(32),
    quantity     INTEGER,
    unit_price   DECIMAL(12, 2),
    discount     DECIMAL(12, 2),
    currency     CHAR(3)
)
BACKUP NO
DISTSTYLE EVEN;

-- s3://<landing>/reference/products/<file>.csv: the product catalogue (full or partial extract).
CREATE TABLE IF NOT EXISTS staging.products (
    product_sku   VARCHAR(32),
    product_name  VARCHAR(256),
    category      VARCHAR(64),
    list_price    DECIMAL(12, 2)
)
BACKUP NO
DISTSTYLE EVEN;

-- s3://<landing>/reference/stores/<file>.csv: the store master.
CREATE TABLE IF NOT EXISTS staging.stores (
    store_id    VARCHAR(16),
    store_name  VARCHAR(128),
    city        VARCHAR(64),
    region      VARCHAR(32),
    opened_on   DATE
)
BACKUP NO
DISTSTYLE EVEN;
