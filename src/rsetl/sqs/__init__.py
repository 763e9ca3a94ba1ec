"""The local Amazon SQS: the template's queues, served by moto in-process on the shared port."""

from __future__ import annotations

from rsetl.sqs.service import SqsService

__all__ = ["SqsService"]
