"""Statement splitting and Data API parameter binding (no database)."""

from __future__ import annotations

import pytest

from rsetl.redshift_sql import ParameterError, bind_parameters, parse_script, split_statements
from rsetl.redshift_sql.lexer import tokenize


def bind(sql: str, parameters: dict[str, str] | None) -> tuple[str, list[str]]:
    """The one statement of `sql` with its parameters bound, and the values, checking that the
    bound statement's tokens point at their own text (the translator reads them)."""
    (statement,), values = bind_parameters(parse_script(sql), parameters)
    assert [(t.text, t.start, t.end) for t in statement.tokens] == [
        (t.text, t.start, t.end) for t in tokenize(statement.text)
    ]
    return statement.text, values


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
    bound = bind("SELECT :a, :b::int, ':a', \":a\" FROM t WHERE x = :a", {"a": "it's", "b": "7"})
    assert bound == ("SELECT $1, $2::int, ':a', \":a\" FROM t WHERE x = $1", ["it's", "7"])


def test_bind_never_puts_a_value_into_the_sql_text() -> None:
    """A value is data: a quote, a backslash or a semicolon in it cannot end a literal or a statement."""
    text, values = bind("SELECT :v", {"v": "x\\'; DROP TABLE t; --"})
    assert text == "SELECT $1"
    assert values == ["x\\'; DROP TABLE t; --"]


def test_bind_leaves_casts_and_bodies_alone() -> None:
    sql = "SELECT a::date, $$ :inside $$ FROM t"
    assert bind(sql, None) == (sql, [])


def test_keyword_names_are_parameters_too() -> None:
    assert bind("CALL p(:date, :key)", {"date": "2024-01-01", "key": "k"}) == (
        "CALL p($1, $2)",
        ["2024-01-01", "k"],
    )


def test_missing_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="parameter a, b is referenced but has no value"):
        bind("SELECT :b, :a, :a", {})


def test_unused_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="parameter extra is supplied but not used"):
        bind("SELECT 1", {"extra": "x"})


@pytest.mark.parametrize(("name", "value"), [("bad-name", "x"), ("ok", "\x00")])
def test_invalid_names_and_values(name: str, value: str) -> None:
    with pytest.raises(ParameterError):
        bind(f"SELECT :{name}", {name: value})


def test_referenced_parameters() -> None:
    sql = "SELECT :a, :b::int, ':c', arr[1:2] FROM t WHERE k = :a"
    assert parse_script(sql).parameters == {"a", "b"}


def test_a_script_is_lexed_into_statements_with_positions_of_their_own() -> None:
    script = parse_script("  SELECT :a;\n -- c\n CREATE TEMP TABLE x (a int); SELECT 2")
    assert [s.text for s in script.statements] == ["SELECT :a", "CREATE TEMP TABLE x (a int)", "SELECT 2"]
    first = script.statements[0]
    assert [first.text[t.start : t.end + 1] for t in first.tokens] == ["SELECT", ":", "a"]
    assert script.placeholders == ((0, 7, 9, "a"),)


@pytest.mark.parametrize(
    ("sql", "touches"),
    [
        ("CREATE TEMP TABLE t (a int)", True),
        ("CREATE TEMPORARY TABLE t (a int)", True),
        ("SELECT * INTO #t FROM u", True),
        ("SET search_path TO s", True),
        ("SELECT set_config('a.b', 'c', false)", True),
        ("PREPARE p AS SELECT 1", True),
        ("DECLARE c CURSOR FOR SELECT 1", True),
        ("LISTEN ch", True),
        ("LOCK t", True),
        ("CALL p()", True),
        ("UPDATE t SET a = 1", False),
        ("SELECT 'temp', \"set\" FROM t -- temp", False),
        ("SELECT 1", False),
    ],
)
def test_whether_a_statement_leaves_session_state(sql: str, touches: bool) -> None:
    """A statement outside a Data API session runs in a session of its own ("Using the Amazon
    Redshift Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html): what it
    leaves on a pooled connection must be discarded before the next statement gets it."""
    assert parse_script(sql).touches_session is touches
