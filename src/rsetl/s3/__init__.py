"""Local S3: moto's S3 implementation behind the local endpoint, with EventBridge notifications."""

from __future__ import annotations

from rsetl.s3.service import S3Service

__all__ = ["S3Service"]
