-- Schemas of the retail-sales demo domain.
--   etl        load ledger and load bookkeeping
--   staging    file layouts: one table per landed file type (loads COPY into session temp copies)
--   sales      conformed dimensions and facts
--   reporting  materialized views and downstream tables built from sales
CREATE SCHEMA IF NOT EXISTS etl;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS sales;
CREATE SCHEMA IF NOT EXISTS reporting;
