"""The template as the local runtime sees it: resolved resources with their local names and paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LocalResource:
    """One CloudFormation resource after the SAM transform, its intrinsics resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    ref: str
    attributes: dict[str, str]
    local_path: Path | None = None
    """Folder of a function's CodeUri or a layer's ContentUri."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """The resource's `Metadata` (for a layer, the SAM resource's: the transform drops it)."""

    @property
    def arn(self) -> str:
        return self.attributes.get("Arn") or self.attributes.get("LayerVersionArn") or self.ref


@dataclass
class LocalTemplate:
    """Every resource the template declares, by logical id, in one stack, account and region."""

    path: Path
    stack_name: str
    account_id: str
    region: str
    parameters: dict[str, str]
    resources: dict[str, LocalResource] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, resource_type: str) -> list[LocalResource]:
        """Resources of one CloudFormation type, in template order."""
        return [r for r in self.resources.values() if r.type == resource_type]

    def by_arn(self, arn: str) -> LocalResource | None:
        """The resource with this ARN (or `Ref` value), if any."""
        for resource in self.resources.values():
            if arn in (resource.arn, resource.ref):
                return resource
        return None

    def unsupported(self, emulated_types: set[str]) -> list[LocalResource]:
        """Resources whose type the local runtime does not emulate, to report at start-up."""
        return [r for r in self.resources.values() if r.type not in emulated_types]
