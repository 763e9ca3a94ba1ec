"""rsetl: event-driven ETL for Amazon Redshift, deployable with AWS SAM and runnable locally."""

from __future__ import annotations

__version__ = "0.1.0"
