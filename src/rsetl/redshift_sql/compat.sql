-- Redshift functions PostgreSQL lacks or defines differently, installed in schema rsetl_compat.
-- The translator qualifies calls (rsetl_compat.getdate()), so user search_path settings never hide them.
-- Every statement is idempotent; the installer runs this file in one transaction.
CREATE SCHEMA IF NOT EXISTS rsetl_compat;

-- GETDATE(): start of the current statement, whole seconds, session time zone (UTC), no time zone.
CREATE OR REPLACE FUNCTION rsetl_compat.getdate() RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT date_trunc('second', statement_timestamp())::timestamp $$;

-- SYSDATE: start of the current transaction, with microseconds.
CREATE OR REPLACE FUNCTION rsetl_compat.sysdate() RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT transaction_timestamp()::timestamp $$;

-- The canonical PostgreSQL field for a Redshift datepart or any of its abbreviations.
CREATE OR REPLACE FUNCTION rsetl_compat.datepart_name(part text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    p text := lower(btrim(part));
BEGIN
    RETURN CASE
        WHEN p IN ('millennium', 'millennia', 'mil', 'mils') THEN 'millennium'
        WHEN p IN ('century', 'centuries', 'c', 'cent', 'cents') THEN 'century'
        WHEN p IN ('decade', 'decades', 'dec', 'decs') THEN 'decade'
        WHEN p = 'epoch' THEN 'epoch'
        WHEN p IN ('year', 'years', 'y', 'yr', 'yrs') THEN 'year'
        WHEN p IN ('quarter', 'quarters', 'qtr', 'qtrs') THEN 'quarter'
        WHEN p IN ('month', 'months', 'mon', 'mons') THEN 'month'
        WHEN p IN ('week', 'weeks', 'w') THEN 'week'
        WHEN p IN ('dayofweek', 'dow', 'dw', 'weekday') THEN 'dow'
        WHEN p IN ('dayofyear', 'doy', 'dy', 'yearday') THEN 'doy'
        WHEN p IN ('day', 'days', 'd') THEN 'day'
        WHEN p IN ('hour', 'hours', 'h', 'hr', 'hrs') THEN 'hour'
        WHEN p IN ('minute', 'minutes', 'm', 'min', 'mins') THEN 'minute'
        WHEN p IN ('second', 'seconds', 's', 'sec', 'secs') THEN 'second'
        WHEN p IN ('millisecond', 'milliseconds', 'ms', 'msec', 'msecs', 'msecond', 'mseconds',
                   'millisec', 'millisecs', 'millisecon') THEN 'milliseconds'
        WHEN p IN ('microsecond', 'microseconds', 'microsec', 'microsecs', 'usecond', 'useconds',
                   'us', 'usec', 'usecs') THEN 'microseconds'
        WHEN p IN ('timezone', 'timezone_hour', 'timezone_minute') THEN p
        ELSE rsetl_compat.raise_invalid_datepart(part)
    END;
END
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.raise_invalid_datepart(part text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RAISE EXCEPTION 'Invalid datepart: %', part USING ERRCODE = '22023';
END
$$;

-- The interval of `n` dateparts, for DATEADD.
CREATE OR REPLACE FUNCTION rsetl_compat.datepart_interval(part text, n bigint) RETURNS interval
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    p text := rsetl_compat.datepart_name(part);
BEGIN
    IF p = 'quarter' THEN
        RETURN make_interval(months => (n * 3)::int);
    ELSIF p IN ('millennium', 'century', 'decade', 'year', 'month', 'week', 'day', 'hour', 'minute',
                'second', 'milliseconds', 'microseconds') THEN
        RETURN (n::text || ' ' || p)::interval;
    END IF;
    RAISE EXCEPTION 'DATEADD does not support datepart %', part USING ERRCODE = '22023';
END
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.dateadd(part text, n bigint, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ts + rsetl_compat.datepart_interval(part, n) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.dateadd(part text, n bigint, ts date) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ts::timestamp + rsetl_compat.datepart_interval(part, n) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.dateadd(part text, n bigint, ts timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT ts + rsetl_compat.datepart_interval(part, n) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.dateadd(part text, n bigint, ts time) RETURNS time
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ts + rsetl_compat.datepart_interval(part, n) $$;

-- DATEDIFF counts datepart boundaries crossed between a and b, as Redshift does.
CREATE OR REPLACE FUNCTION rsetl_compat.datediff(part text, a timestamp, b timestamp) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    p text := rsetl_compat.datepart_name(part);
BEGIN
    RETURN CASE p
        WHEN 'millennium' THEN extract(millennium FROM b) - extract(millennium FROM a)
        WHEN 'century' THEN extract(century FROM b) - extract(century FROM a)
        WHEN 'decade' THEN extract(decade FROM b) - extract(decade FROM a)
        WHEN 'year' THEN extract(year FROM b) - extract(year FROM a)
        WHEN 'quarter' THEN (extract(year FROM b) * 4 + extract(quarter FROM b))
                          - (extract(year FROM a) * 4 + extract(quarter FROM a))
        WHEN 'month' THEN (extract(year FROM b) * 12 + extract(month FROM b))
                        - (extract(year FROM a) * 12 + extract(month FROM a))
        WHEN 'week' THEN (date_trunc('week', b)::date - date_trunc('week', a)::date) / 7
        WHEN 'day' THEN b::date - a::date
        WHEN 'hour' THEN extract(epoch FROM date_trunc('hour', b) - date_trunc('hour', a))::bigint / 3600
        WHEN 'minute' THEN extract(epoch FROM date_trunc('minute', b) - date_trunc('minute', a))::bigint / 60
        WHEN 'second' THEN extract(epoch FROM date_trunc('second', b) - date_trunc('second', a))::bigint
        WHEN 'milliseconds' THEN
            (extract(epoch FROM date_trunc('milliseconds', b) - date_trunc('milliseconds', a)) * 1000)::bigint
        WHEN 'microseconds' THEN (extract(epoch FROM b - a) * 1000000)::bigint
        ELSE rsetl_compat.raise_invalid_datepart(part)::bigint
    END;
END
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.datediff(part text, a date, b date) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT rsetl_compat.datediff(part, a::timestamp, b::timestamp) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.datediff(part text, a timestamptz, b timestamptz) RETURNS bigint
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT rsetl_compat.datediff(part, a::timestamp, b::timestamp) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.datediff(part text, a time, b time) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT rsetl_compat.datediff(part, '2000-01-01'::date + a, '2000-01-01'::date + b) $$;

-- DATEPART / DATE_PART with Redshift's datepart names.
CREATE OR REPLACE FUNCTION rsetl_compat.datepart(part text, ts timestamp) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT date_part(rsetl_compat.datepart_name(part), ts) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.datepart(part text, ts date) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT date_part(rsetl_compat.datepart_name(part), ts::timestamp) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.datepart(part text, ts timestamptz) RETURNS double precision
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT date_part(rsetl_compat.datepart_name(part), ts) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.datepart(part text, ts time) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT date_part(rsetl_compat.datepart_name(part), ts) $$;

-- DATE_TRUNC returns a timestamp for dates and timestamps, as on Redshift.
CREATE OR REPLACE FUNCTION rsetl_compat.date_trunc(part text, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.date_trunc(rsetl_compat.datepart_name(part), ts) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.date_trunc(part text, ts date) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.date_trunc(rsetl_compat.datepart_name(part), ts::timestamp) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.date_trunc(part text, ts timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.date_trunc(rsetl_compat.datepart_name(part), ts) $$;

-- TRUNC(timestamp) is the date; the numeric forms are PostgreSQL's own.
CREATE OR REPLACE FUNCTION rsetl_compat.trunc(ts timestamp) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ts::date $$;

CREATE OR REPLACE FUNCTION rsetl_compat.trunc(ts timestamptz) RETURNS date
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT ts::date $$;

CREATE OR REPLACE FUNCTION rsetl_compat.trunc(x numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.trunc(x) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.trunc(x numeric, places integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.trunc(x, places) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.trunc(x double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.trunc(x) $$;

-- ADD_MONTHS keeps month ends at month ends (2008-02-29 + 1 month = 2008-03-31).
CREATE OR REPLACE FUNCTION rsetl_compat.add_months(ts timestamp, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN ts::date = (date_trunc('month', ts) + interval '1 month - 1 day')::date
        THEN date_trunc('month', ts) + make_interval(months => n::int + 1) - interval '1 day'
             + (ts - date_trunc('day', ts))
        ELSE ts + make_interval(months => n::int)
    END
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.add_months(ts date, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT rsetl_compat.add_months(ts::timestamp, n) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.months_between(a date, b date) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN extract(day FROM a) = extract(day FROM b)
          OR (a = (date_trunc('month', a) + interval '1 month - 1 day')::date
              AND b = (date_trunc('month', b) + interval '1 month - 1 day')::date)
        THEN ((extract(year FROM a) - extract(year FROM b)) * 12 + extract(month FROM a) - extract(month FROM b))::double precision
        ELSE ((extract(year FROM a) - extract(year FROM b)) * 12 + extract(month FROM a) - extract(month FROM b)
              + (extract(day FROM a) - extract(day FROM b)) / 31.0)::double precision
    END
$$;

-- CONVERT_TIMEZONE([source,] target, timestamp): the source defaults to UTC.
CREATE OR REPLACE FUNCTION rsetl_compat.convert_timezone(source text, target text, ts timestamp) RETURNS timestamp
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT (ts AT TIME ZONE source) AT TIME ZONE target $$;

CREATE OR REPLACE FUNCTION rsetl_compat.convert_timezone(target text, ts timestamp) RETURNS timestamp
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT (ts AT TIME ZONE 'UTC') AT TIME ZONE target $$;

CREATE OR REPLACE FUNCTION rsetl_compat.convert_timezone(target text, ts timestamptz) RETURNS timestamp
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT ts AT TIME ZONE target $$;

-- NVL2(expr, if_not_null, if_null).
CREATE OR REPLACE FUNCTION rsetl_compat.nvl2(expr anyelement, not_null anycompatible, if_null anycompatible)
RETURNS anycompatible
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN expr IS NOT NULL THEN not_null ELSE if_null END $$;

-- An untyped NULL or string literal as the first argument resolves to this overload.
CREATE OR REPLACE FUNCTION rsetl_compat.nvl2(expr text, not_null anycompatible, if_null anycompatible)
RETURNS anycompatible
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN expr IS NOT NULL THEN not_null ELSE if_null END $$;

CREATE OR REPLACE FUNCTION rsetl_compat.len(s text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT length(s) $$;

CREATE OR REPLACE FUNCTION rsetl_compat.charindex(needle text, haystack text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT strpos(haystack, needle) $$;

-- STRTOL(string, base): a signed integer written in base 2..36 (hex may start with 0x).
CREATE OR REPLACE FUNCTION rsetl_compat.strtol(num text, base integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    s text := lower(btrim(num));
    negative boolean := false;
    result numeric := 0;
    digit integer;
    ch text;
BEGIN
    IF base < 2 OR base > 36 THEN
        RAISE EXCEPTION 'STRTOL base must be between 2 and 36, not %', base USING ERRCODE = '22023';
    END IF;
    IF left(s, 1) IN ('-', '+') THEN
        negative := left(s, 1) = '-';
        s := substr(s, 2);
    END IF;
    IF base = 16 AND left(s, 2) = '0x' THEN
        s := substr(s, 3);
    END IF;
    IF s = '' THEN
        RAISE EXCEPTION 'invalid STRTOL input: "%"', num USING ERRCODE = '22P02';
    END IF;
    FOREACH ch IN ARRAY regexp_split_to_array(s, '') LOOP
        digit := strpos('0123456789abcdefghijklmnopqrstuvwxyz', ch) - 1;
        IF digit < 0 OR digit >= base THEN
            RAISE EXCEPTION 'invalid STRTOL input: "%" in base %', num, base USING ERRCODE = '22P02';
        END IF;
        result := result * base + digit;
    END LOOP;
    RETURN (CASE WHEN negative THEN -result ELSE result END)::bigint;
END
$$;

-- LISTAGG as a plain aggregate; `LISTAGG(x, d) WITHIN GROUP (ORDER BY y)` is translated to
-- `rsetl_compat.listagg(x, d ORDER BY y)`. Nulls are skipped, as Redshift does.
CREATE OR REPLACE FUNCTION rsetl_compat.listagg_step(state text, value text, delimiter text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN value IS NULL THEN state
                WHEN state IS NULL THEN value
                ELSE state || coalesce(delimiter, '') || value END
$$;

CREATE OR REPLACE FUNCTION rsetl_compat.listagg_step(state text, value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT rsetl_compat.listagg_step(state, value, '') $$;

CREATE OR REPLACE AGGREGATE rsetl_compat.listagg(text, text) (SFUNC = rsetl_compat.listagg_step, STYPE = text);
CREATE OR REPLACE AGGREGATE rsetl_compat.listagg(text) (SFUNC = rsetl_compat.listagg_step, STYPE = text);

-- JSON_PARSE / JSON_EXTRACT_PATH_TEXT over text, as Redshift takes VARCHAR JSON.
CREATE OR REPLACE FUNCTION rsetl_compat.json_parse(doc text) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT doc::jsonb $$;

CREATE OR REPLACE FUNCTION rsetl_compat.json_extract_path_text(doc text, VARIADIC path text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.json_extract_path_text(doc::json, VARIADIC path) $$;

-- CONCAT(a, b) is NULL when either argument is NULL on Redshift (PostgreSQL's concat skips NULLs).
CREATE OR REPLACE FUNCTION rsetl_compat.concat(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT a || b $$;

-- REGEXP_REPLACE replaces every match on Redshift (PostgreSQL: the first, unless flag g).
CREATE OR REPLACE FUNCTION rsetl_compat.regexp_replace(source text, pattern text, replacement text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT pg_catalog.regexp_replace(source, pattern, replacement, 'g') $$;

CREATE OR REPLACE FUNCTION rsetl_compat.regexp_replace(
    source text, pattern text, replacement text, start_at integer, parameters text DEFAULT ''
)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.regexp_replace(source, pattern, replacement, start_at, 0, translate(parameters, 'cpe', ''))
$$;

-- STL_LOAD_ERRORS: rows COPY rejected, with Redshift's columns. COPY records them on a separate
-- connection, so they survive the rollback of the failed load; `stl_load_errors` in a query
-- resolves here.
CREATE TABLE IF NOT EXISTS rsetl_compat.stl_load_errors (
    userid           integer,
    slice            integer,
    tbl              integer,
    starttime        timestamp,
    session          integer,
    query            integer,
    filename         character(256),
    line_number      bigint,
    colname          character(127),
    type             character(10),
    col_length       character(10),
    position         integer,
    raw_line         character(1024),
    raw_field_value  character(1024),
    err_code         integer,
    err_reason       character(100),
    is_partial       integer,
    start_offset     bigint
);
