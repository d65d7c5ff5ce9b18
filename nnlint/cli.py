"""Placeholder; the click CLI lands with issue 2."""


def main() -> None:  # pragma: no cover - replaced by the real CLI
    raise SystemExit("nnlint CLI not built yet")
