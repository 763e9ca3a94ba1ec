"""Statement splitting and Data API parameter binding (no database)."""

from __future__ import annotations

import pytest

from rsetl.redshift_sql import ParameterError, bind_parameters, split_statements
from rsetl.redshift_sql.lexer import referenced_parameters


def test_split_keeps_strings_bodies_and_drops_empty_statements() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE SCHEMA s;;
    INSERT INTO s.t VALUES ('a;b');
    CREATE PROCEDURE s.p() AS $$ BEGIN RAISE INFO 'x;y'; END; $$ LANGUAGE plpgsql;
    SELECT 1 /* ; */
    """
    assert split_statements(script) == [
        "CREATE SCHEMA s",
        "INSERT INTO s.t VALUES ('a;b')",
        "CREATE PROCEDURE s.p() AS $$ BEGIN RAISE INFO 'x;y'; END; $$ LANGUAGE plpgsql",
        "SELECT 1",
    ]


def test_split_of_only_comments_is_empty() -> None:
    assert split_statements("-- nothing\n/* here */ ;") == []


def test_bind_turns_names_into_placeholders_and_returns_the_values() -> None:
    bound = bind_parameters("SELECT :a, :b::int, ':a', \":a\" FROM t WHERE x = :a", {"a": "it's", "b": "7"})
    assert bound == ("SELECT $1, $2::int, ':a', \":a\" FROM t WHERE x = $1", ["it's", "7"])


def test_bind_never_puts_a_value_into_the_sql_text() -> None:
    """A value is data: a quote, a backslash or a semicolon in it cannot end a literal or a statement."""
    text, values = bind_parameters("SELECT :v", {"v": "x\\'; DROP TABLE t; --"})
    assert text == "SELECT $1"
    assert values == ["x\\'; DROP TABLE t; --"]


def test_bind_leaves_casts_and_bodies_alone() -> None:
    sql = "SELECT a::date, $$ :inside $$ FROM t"
    assert bind_parameters(sql, None) == (sql, [])


def test_keyword_names_are_parameters_too() -> None:
    assert bind_parameters("CALL p(:date, :key)", {"date": "2024-01-01", "key": "k"}) == (
        "CALL p($1, $2)",
        ["2024-01-01", "k"],
    )


def test_missing_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="parameter a, b is referenced but has no value"):
        bind_parameters("SELECT :b, :a, :a", {})


def test_unused_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="parameter extra is supplied but not used"):
        bind_parameters("SELECT 1", {"extra": "x"})


@pytest.mark.parametrize(("name", "value"), [("bad-name", "x"), ("ok", "\x00")])
def test_invalid_names_and_values(name: str, value: str) -> None:
    with pytest.raises(ParameterError):
        bind_parameters(f"SELECT :{name}", {name: value})


def test_referenced_parameters() -> None:
    sql = "SELECT :a, :b::int, ':c', arr[1:2] FROM t WHERE k = :a"
    assert referenced_parameters(sql) == {"a", "b"}
