"""The architecture family (filled in by the architecture model)."""

from __future__ import annotations

from nnlint.extractors import Extractor, register_extractor


@register_extractor
class ArchitectureExtractor(Extractor):
    family = "architecture"

    def finish(self) -> list:
        return []
