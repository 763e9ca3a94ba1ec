"""Errors of the local IAM model."""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy document the local IAM cannot read: says what is wrong and where."""
