"""The cheap byte prefilter: decides, without parsing, whether a file can have any finding."""

from __future__ import annotations

import re
from collections.abc import Iterable

# An import of a deep-learning framework: ``import torch``, ``import numpy, torch``,
# ``from tensorflow.keras import layers``, ``import tf_keras``. Matched anywhere in the bytes;
# a match inside a string only costs a parse. A lone \r ends a line too (old Mac files).
FRAMEWORK_IMPORT = re.compile(
    rb"(?:^|(?<=\r))[ \t]*(?:import[ \t]+[^\n#;]*\b(?:torch|keras|tensorflow|tf_keras)\b"
    rb"|from[ \t]+(?:torch|keras|tensorflow|tf_keras)\b)",
    re.MULTILINE,
)


def imports_a_framework(source: bytes) -> bool:
    """Whether the file imports torch, keras or tensorflow (a regex over the raw bytes)."""
    return FRAMEWORK_IMPORT.search(source) is not None


def any_trigger(source: bytes, triggers: Iterable[bytes]) -> bool:
    """Whether any of the rules' trigger byte patterns occurs in the file."""
    return any(trigger in source for trigger in triggers)


def could_have_findings(source: bytes, triggers: Iterable[bytes]) -> bool:
    """Cheap test: False means no enabled rule can possibly fire, so the file is not parsed."""
    return imports_a_framework(source) and any_trigger(source, triggers)
