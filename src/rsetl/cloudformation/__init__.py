"""The local CloudFormation: DescribeStacks of the one stack the runtime deployed from template.yaml."""

from __future__ import annotations

from rsetl.cloudformation.service import CloudFormationService

__all__ = ["CloudFormationService"]
