"""Errors raised while reading a SAM template for the local runtime."""

from __future__ import annotations


class TemplateError(Exception):
    """The template, its parameters or samconfig.toml cannot be used locally; the message says where."""
