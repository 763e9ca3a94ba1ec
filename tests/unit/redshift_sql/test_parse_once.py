"""A SQL text is lexed once when it is submitted: splitting, parameters, session state and the
translation all read the same tokens."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from rsetl.objectstore import MemoryObjectStore
from rsetl.redshift_sql import RedshiftSqlRunner, lexer, prepare_script
from rsetl.redshift_sql import script as script_module
from rsetl.redshift_sql.text_cache import TextCache

# The package exports a function named `translate` too, which hides the module as an attribute.
translate_module = importlib.import_module("rsetl.redshift_sql.translate")


@pytest.fixture
def lexings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = lexer._Tokenizer.tokenize

    def counted(self: Any, sql: str) -> Any:
        seen.append(sql)
        return original(self, sql)

    monkeypatch.setattr(lexer._Tokenizer, "tokenize", counted)
    # Empty caches: a text another test lexed is not lexed again.
    monkeypatch.setattr(script_module, "_SCRIPTS", TextCache())
    monkeypatch.setattr(translate_module, "_CACHE", TextCache())
    return seen


@pytest.mark.parametrize(
    ("sql", "parameters"),
    [
        ("SELECT NVL(a, 'x') FROM t WHERE k = :k", {"k": "1"}),
        ("CREATE TEMP TABLE x (a int); INSERT INTO x VALUES (1); SELECT * FROM x", None),
        ("LOCK sales; DELETE FROM sales WHERE id = 1", None),
    ],
)
def test_a_submitted_text_is_lexed_once(
    lexings: list[str], sql: str, parameters: dict[str, str] | None
) -> None:
    script = RedshiftSqlRunner(MemoryObjectStore()).parse(sql)
    assert script.parameters == frozenset(parameters or ())
    prepare_script(script, parameters)
    assert lexings == [sql]
