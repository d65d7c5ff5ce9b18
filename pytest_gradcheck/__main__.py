"""``python -m pytest_gradcheck MODULE:FACTORY``: check a model without writing a test.

Exit codes (a stable contract for CI scripts): 0 healthy, 1 problems found, 2 usage error (bad
spec, import error, factory error, bad option), with a one-paragraph message and no traceback
unless ``--traceback`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from pytest_gradcheck.bounds import Bounds, BoundsError

EXIT_HEALTHY = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def _steps(text: str) -> int:
    from pytest_gradcheck.model_check import parse_steps

    try:
        return parse_steps(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seed(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer or 'none', got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_gradcheck",
        description="Check a model's gradients, dropout and (with an optimizer or --steps) a "
        "short training run on a copy. FACTORY() returns (model, batch) with batch the inputs "
        "or (inputs, target), or a dict with keys model, inputs and optionally target, loss_fn, "
        "optimizer (a callable params -> torch.optim.Optimizer).",
        epilog="exit codes: 0 healthy, 1 problems found, 2 usage error",
    )
    parser.add_argument(
        "spec",
        metavar="MODULE:FACTORY",
        help="a module importable from the current directory (or a path to a .py file) and "
        "the factory in it, e.g. models:make_resnet",
    )
    parser.add_argument(
        "--steps",
        type=_steps,
        default=None,
        metavar="N",
        help="run the short-run checks for N optimizer steps (default: 5 steps, and only when "
        "the factory gives an optimizer; Adam(lr=0.001) when it does not)",
    )
    parser.add_argument(
        "--plot", metavar="FILE.png", default=None, help="write the gradient-flow PNG here"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="report format (text)"
    )
    parser.add_argument(
        "--bound",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a gradcheck bound, e.g. --bound max_dead_fraction=0.8 (repeatable)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="SEED",
        help="seed torch before the factory and each check ('none': leave the RNG; default 0)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list every layer's gradient numbers and update-to-weight ratio",
    )
    parser.add_argument(
        "--traceback", action="store_true", help="show the traceback behind a usage error"
    )
    return parser


def _bounds(pairs: Sequence[str]) -> Bounds:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise BoundsError(f"--bound: expected NAME=VALUE, got {pair!r}")
        values[name.strip()] = value.strip()
    return Bounds().merged(values, source="--bound")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    as_json = args.format == "json"

    def usage_error(message: str, error: BaseException | None = None) -> int:
        if args.traceback and error is not None:
            traceback.print_exception(type(error), error, error.__traceback__)
        print(f"pytest_gradcheck: error: {message}", file=sys.stderr)
        if as_json:
            print(json.dumps({"spec": args.spec, "ok": False, "exit_code": 2, "error": message}))
        return EXIT_USAGE

    from pytest_gradcheck.model_check import SpecError, load_case, run_checks, split_spec

    try:
        split_spec(args.spec)  # a malformed spec fails before torch is imported
        bounds = _bounds(args.bound)
    except (SpecError, BoundsError) as error:
        return usage_error(str(error))
    if args.plot:
        from pytest_gradcheck.plot import matplotlib_available

        if not matplotlib_available():
            return usage_error("--plot needs matplotlib, which is not installed")
    try:
        import torch
    except ImportError as error:
        return usage_error(
            f"pytest_gradcheck needs torch, which cannot be imported ({error}); install it, "
            f"e.g. `pip install 'nnlint[gradcheck]'`",
            error,
        )
    try:
        if args.seed is not None:
            torch.manual_seed(args.seed)
        case = load_case(args.spec)
        check = run_checks(case, bounds=bounds, steps=args.steps, seed=args.seed)
    except SpecError as error:
        return usage_error(str(error), error.__cause__ or error)
    if args.plot:
        from pytest_gradcheck.plot import plot_gradient_flow

        path = Path(args.plot)
        try:
            plot_gradient_flow(check.probe.to_dict(), bounds, path, title=args.spec)
        except OSError as error:
            return usage_error(f"--plot: cannot write {path}: {error}", error)
        check.plot = str(path)
        check.notes.append(f"gradient-flow plot: {path}")
    if as_json:
        print(json.dumps(check.to_dict(), indent=2))
    else:
        print(check.format_text(verbose=args.verbose))
    return check.exit_code


if __name__ == "__main__":
    sys.exit(main())
