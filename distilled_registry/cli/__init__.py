"""``distilled-registry``: the command line.

One package, a module per kind of command: :mod:`.reading` (list, info, verify: fast, no JAX),
:mod:`.computing` (distill, demo, evaluate, regenerate, rerun, plan: they import
``distilled_registry.pipelines`` inside their handler, the one place the pipelines are wired in),
:mod:`.publishing` (import-published, export-hf, push, builders); the options they share are
defined once in :mod:`.arguments`.

Exit codes (:mod:`.exit_codes`): 0 success; 2 a bad command line (``UsageError``: a malformed name, an unknown
release, an option out of range, options that contradict each other; nothing was done); 1 a runtime
failure (``UserError``: a damaged file, a failed download, a release that fails verification; also out
of memory and the system's own errors, such as a full disk); 130 interrupted. Each error is one line,
``distilled-registry CMD: error: ...``, naming the value and what to do; never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from .. import user_values
from ..errors import UserError
from .exit_codes import FAILURE, INTERRUPTED, exit_code
from .option_types import Parser


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import computing, planning, publishing, reading

    p = Parser(prog="distilled-registry",
                                description="Regenerate, publish and load KIP / Label Solve distilled datasets.")
    p.add_argument("--version", action="version", version=f"distilled-registry {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    computing.add(sub)
    planning.add(sub)
    reading.add(sub)
    publishing.add(sub)
    return p


# Commands that run kernels: on a CPU they spread the work over every core (pipelines/devices.py).
COMPUTING_COMMANDS = frozenset({"distill", "demo", "evaluate", "regenerate", "rerun", "plan"})
# Commands of an extra other than distill (distilled_registry/extras.py): the modules they need.
EXTRA_COMMANDS = {"builders": ("tensorflow_datasets",), "export-hf": ("datasets", "huggingface_hub", "jinja2"),
                  "push": ("datasets", "huggingface_hub")}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0, 1 runtime failure, 2 usage, 130 interrupted)."""
    try:  # a bad option value (rule E: user_values) or an unknown option: one line, exit 2, before any work
        args = build_parser().parse_args(argv)
    except user_values.BadValue as e:
        given = sys.argv[1:] if argv is None else argv
        command = next((x for x in given if not x.startswith("-")), None)
        print(f"distilled-registry{' ' + command if command else ''}: error: {_one_line(str(e))}", file=sys.stderr)
        return exit_code(e)
    try:
        from ..extras import require

        if args.command in COMPUTING_COMMANDS or getattr(args, "accuracy", False):
            from ..pipelines.devices import one_device_per_core

            require("jax", "jaxlib", "optax", "scipy", what=f"distilled-registry {args.command}")
            one_device_per_core()  # every CPU core a jax device (no effect once jax is imported)
        require(*EXTRA_COMMANDS.get(args.command, ()), what=f"distilled-registry {args.command}")
        return args.func(args)
    except UserError as e:  # UsageError (2): a bad command line; UserError (1): a file, a download, a release
        from ..escape import terminal  # a message may quote a file's text: no control character reaches the terminal

        print(f"distilled-registry {args.command}: error: {terminal(_one_line(str(e)))}", file=sys.stderr)
        return exit_code(e)
    except KeyboardInterrupt:
        print(f"distilled-registry {args.command}: interrupted; nothing was left half-written", file=sys.stderr)
        return INTERRUPTED
    except MemoryError:
        print(f"distilled-registry {args.command}: error: out of memory; use a smaller --tile, --target-batch "
              "or --ipc", file=sys.stderr)
        return FAILURE
    except OSError as e:  # a full disk, a permission, a path that is a file: the system's own words
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        print(f"distilled-registry {args.command}: error:{where} {e.strerror or e}", file=sys.stderr)
        return FAILURE


def _one_line(text: str) -> str:
    """A message on one line: continuation lines joined with '; '."""
    parts = [p.strip() for p in text.strip().splitlines() if p.strip()]
    return "; ".join(parts) if parts else text
