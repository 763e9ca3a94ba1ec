-- Downstream of the nightly snapshot: segments every known customer as of one business date
-- from their order history up to and including that date (90-day window for frequency and spend).
-- Idempotent: the date is deleted and rebuilt.
--   NEW         first order within the last 30 days
--   LAPSED      no order within the last 90 days
--   CHAMPION    4+ orders and 500+ net spend within 90 days
--   LOYAL       2+ orders within 90 days
--   AT_RISK     single order, more than 60 days ago
--   OCCASIONAL  everyone else
CREATE OR REPLACE PROCEDURE reporting.sp_load_customer_segments(p_business_date DATE)
AS $$
DECLARE
    v_rows  BIGINT;
BEGIN
    IF p_business_date IS NULL THEN
        RAISE EXCEPTION 'sp_load_customer_segments: business_date is required';
    END IF;

    DELETE FROM reporting.customer_segments WHERE business_date = p_business_date;

    INSERT INTO reporting.customer_segments
        (business_date, customer_id, segment, first_order_date, last_order_date,
         days_since_last_order, orders_90d, net_amount_90d, built_at)
    SELECT p_business_date,
           c.customer_id,
           CASE
               WHEN c.first_order_date > DATEADD(day, -30, p_business_date) THEN 'NEW'
               WHEN c.last_order_date <= DATEADD(day, -90, p_business_date) THEN 'LAPSED'
               WHEN c.orders_90d >= 4 AND c.net_amount_90d >= 500 THEN 'CHAMPION'
               WHEN c.orders_90d >= 2 THEN 'LOYAL'
               WHEN DATEDIFF(day, c.last_order_date, p_business_date) > 60 THEN 'AT_RISK'
               ELSE 'OCCASIONAL'
           END,
           c.first_order_date,
           c.last_order_date,
           DATEDIFF(day, c.last_order_date, p_business_date),
           c.orders_90d,
           c.net_amount_90d,
           GETDATE()
    FROM (
        SELECT customer_id,
               MIN(order_date) AS first_order_date,
               MAX(order_date) AS last_order_date,
               COUNT(DISTINCT CASE WHEN order_date > DATEADD(day, -90, p_business_date)
                                   THEN order_id END) AS orders_90d,
               NVL(SUM(CASE WHEN order_date > DATEADD(day, -90, p_business_date)
                            THEN net_amount END), 0) AS net_amount_90d
        FROM sales.fact_sales
        WHERE customer_id IS NOT NULL AND order_date <= p_business_date
        GROUP BY customer_id
    ) c;
    GET DIAGNOSTICS v_rows := ROW_COUNT;

    RAISE INFO 'sp_load_customer_segments: % customers segmented for %', v_rows, p_business_date;
END;
$$ LANGUAGE plpgsql;
