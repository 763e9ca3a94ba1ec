-- Downstream tables rebuilt one business date at a time by the nightly procedures.

-- One row per (business_date, store): filled by sales.sp_build_daily_snapshot.
CREATE TABLE IF NOT EXISTS reporting.daily_sales_snapshot (
    business_date    DATE            NOT NULL ENCODE RAW,
    store_id         VARCHAR(16)     NOT NULL ENCODE zstd,
    region           VARCHAR(32)     NOT NULL ENCODE bytedict,
    orders           BIGINT          NOT NULL ENCODE az64,
    lines            BIGINT          NOT NULL ENCODE az64,
    units            BIGINT          NOT NULL ENCODE az64,
    customers        BIGINT          NOT NULL ENCODE az64,
    gross_amount     DECIMAL(18, 2)  NOT NULL ENCODE az64,
    discount_amount  DECIMAL(18, 2)  NOT NULL ENCODE az64,
    net_amount       DECIMAL(18, 2)  NOT NULL ENCODE az64,
    built_at         TIMESTAMP       NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (business_date, store_id)
)
DISTSTYLE ALL
COMPOUND SORTKEY (business_date, store_id);

-- One row per (business_date, known customer): filled by reporting.sp_load_customer_segments.
CREATE TABLE IF NOT EXISTS reporting.customer_segments (
    business_date          DATE            NOT NULL ENCODE RAW,
    customer_id            VARCHAR(32)     NOT NULL ENCODE zstd,
    segment                VARCHAR(16)     NOT NULL ENCODE bytedict,
    first_order_date       DATE            NOT NULL ENCODE az64,
    last_order_date        DATE            NOT NULL ENCODE az64,
    days_since_last_order  INTEGER         NOT NULL ENCODE az64,
    orders_90d             BIGINT          NOT NULL ENCODE az64,
    net_amount_90d         DECIMAL(18, 2)  NOT NULL ENCODE az64,
    built_at               TIMESTAMP       NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (business_date, customer_id)
)
DISTSTYLE KEY
DISTKEY (customer_id)
COMPOUND SORTKEY (business_date, segment);
