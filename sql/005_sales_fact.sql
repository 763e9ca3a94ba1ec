-- Sales fact at order-line grain, keyed by (order_id, line_number).
-- DISTKEY(order_id) spreads rows evenly and keeps the lines of one order on one slice, so
-- COUNT(DISTINCT order_id) aggregates locally. Queries filter on dates first, so order_date
-- leads the sort key and is left RAW (compressing the leading sort key column defeats zone maps).
-- source_key (s3://bucket/key) ties every row to the file that loaded it.
CREATE TABLE IF NOT EXISTS sales.fact_sales (
    order_id      VARCHAR(32)     NOT NULL ENCODE zstd,
    line_number   SMALLINT        NOT NULL ENCODE az64,
    order_ts      TIMESTAMP       NOT NULL ENCODE az64,
    order_date    DATE            NOT NULL ENCODE RAW,
    store_id      VARCHAR(16)     NOT NULL ENCODE zstd,
    product_sku   VARCHAR(32)     NOT NULL ENCODE zstd,
    customer_id   VARCHAR(32)              ENCODE zstd,
    quantity      INTEGER         NOT NULL ENCODE az64,
    unit_price    DECIMAL(12, 2)  NOT NULL ENCODE az64,
    discount      DECIMAL(12, 2)  NOT NULL ENCODE az64,
    currency      CHAR(3)         NOT NULL ENCODE bytedict,
    net_amount    DECIMAL(14, 2)  NOT NULL ENCODE az64,
    source_key    VARCHAR(1100)   NOT NULL ENCODE zstd,
    loaded_at     TIMESTAMP       NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (order_id, line_number)
)
DISTSTYLE KEY
DISTKEY (order_id)
COMPOUND SORTKEY (order_date, store_id);
