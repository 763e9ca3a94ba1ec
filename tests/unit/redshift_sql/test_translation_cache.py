"""Translations are kept by text: the same statement sent again is not parsed again."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from rsetl.redshift_sql.lexer import tokenize
from rsetl.redshift_sql.text_cache import TextCache
from rsetl.redshift_sql.translate import Translation

# The package exports a function named `translate` too, which hides the module as an attribute.
translate_module = importlib.import_module("rsetl.redshift_sql.translate")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = translate_module.translate_tokens

    def counted(statement: str, tokens: Any) -> Any:
        seen.append(statement)
        return original(statement, tokens)

    monkeypatch.setattr(translate_module, "translate_tokens", counted)
    monkeypatch.setattr(translate_module, "_CACHE", TextCache(size=2))
    return seen


def _translate(statement: str) -> Translation:
    return translate_module.translate_cached(statement, tokenize(statement))


def test_a_text_seen_before_is_answered_from_the_cache(parses: list[str]) -> None:
    first = _translate("SELECT NVL(a, 'x') FROM t")
    assert _translate("SELECT NVL(a, 'x') FROM t") is first
    assert first.sql == "SELECT COALESCE(a, 'x') FROM t"
    assert parses == ["SELECT NVL(a, 'x') FROM t"]


def test_the_least_recently_used_text_goes_first(parses: list[str]) -> None:
    for statement in ["SELECT 1", "SELECT 2", "SELECT 1", "SELECT 3", "SELECT 1", "SELECT 2"]:
        _translate(statement)
    assert parses == ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 2"]


def test_copy_commands_are_translated_each_time(parses: list[str]) -> None:
    copy = "COPY sales FROM 's3://bucket/key' IAM_ROLE default CSV"
    assert _translate(copy) is not _translate(copy)
    assert parses == [copy, copy]


def test_a_text_seen_before_is_not_lexed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    script_module = importlib.import_module("rsetl.redshift_sql.script")
    monkeypatch.setattr(script_module, "_SCRIPTS", TextCache())
    first = script_module.parse_script("SELECT 1; SELECT 2")
    assert script_module.parse_script("SELECT 1; SELECT 2") is first
    assert len(first.statements) == 2


def test_a_long_text_is_not_kept() -> None:
    cache: TextCache[list[str]] = TextCache(max_length=10)
    made: list[str] = []

    def make(text: str) -> list[str]:
        made.append(text)
        return [text]

    for text in ["short", "short", "a longer text", "a longer text"]:
        cache.get(text, lambda text=text: make(text))  # type: ignore[misc]
    assert made == ["short", "a longer text", "a longer text"]
