-- Dimensions. They are small, so DISTSTYLE ALL puts a copy on every node and joins to the
-- fact never redistribute. Natural keys are kept: the loads merge on them (delete + insert).

-- Currencies the business accepts; sales lines in any other currency are rejected.
CREATE TABLE IF NOT EXISTS sales.dim_currency (
    currency_code  CHAR(3)      NOT NULL ENCODE RAW,
    currency_name  VARCHAR(64)  NOT NULL ENCODE zstd,
    PRIMARY KEY (currency_code)
)
DISTSTYLE ALL
SORTKEY (currency_code);

-- Reference rows owned by this file: replacing them keeps re-application idempotent.
DELETE FROM sales.dim_currency;
INSERT INTO sales.dim_currency (currency_code, currency_name) VALUES
    ('USD', 'US dollar'),
    ('CAD', 'Canadian dollar'),
    ('MXN', 'Mexican peso');

CREATE TABLE IF NOT EXISTS sales.dim_store (
    store_id     VARCHAR(16)    NOT NULL ENCODE RAW,
    store_name   VARCHAR(128)   NOT NULL ENCODE zstd,
    city         VARCHAR(64)             ENCODE zstd,
    region       VARCHAR(32)             ENCODE bytedict,
    opened_on    DATE                    ENCODE az64,
    source_key   VARCHAR(1100)           ENCODE zstd,
    updated_at   TIMESTAMP      NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (store_id)
)
DISTSTYLE ALL
SORTKEY (store_id);

CREATE TABLE IF NOT EXISTS sales.dim_product (
    product_sku   VARCHAR(32)     NOT NULL ENCODE RAW,
    product_name  VARCHAR(256)    NOT NULL ENCODE zstd,
    category      VARCHAR(64)     NOT NULL ENCODE bytedict,
    list_price    DECIMAL(12, 2)           ENCODE az64,
    source_key    VARCHAR(1100)            ENCODE zstd,
    updated_at    TIMESTAMP       NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (product_sku)
)
DISTSTYLE ALL
SORTKEY (product_sku);
