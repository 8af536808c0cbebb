"""TFDS's ``tfds build`` command, runnable without Apache Beam.

    python -m distilled_registry.cli.tfds_build builders/kip_digits --config ipc10
    python -m distilled_registry.cli.tfds_build kip_digits --config ipc10 --data_dir DIR

The arguments are exactly ``tfds build``'s (TFDS's own ``build`` command parses and runs them:
a dataset folder such as ``builders/kip_digits``, or a registered name; ``--config``, ``--data_dir``,
``--file_format``, ...). Why not ``tfds build`` itself: the ``tfds`` command of TFDS 4.9.x imports
its ``convert_format`` command at start, which needs ``apache_beam``, so with the ``[tfds]`` extra it
stops with "No module named 'apache_beam'" before building anything. ``tfds build`` works once
``pip install apache-beam`` is done; this module needs nothing beyond ``[tfds]``. It is a command-line
entry point, so it lives in the CLI package (its exit status: :mod:`.exit_codes`).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run TFDS's ``build`` command on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    from ..errors import UserError
    from ..extras import require
    from .exit_codes import exit_code

    try:
        require("tensorflow_datasets", what="building a TFDS dataset")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return exit_code(e)
    from tensorflow_datasets.scripts.cli import build, cli_utils

    from .. import builders  # noqa: F401 - registers every family (for a name, not a folder)

    parse = cli_utils.make_flags_parser(build.Args, description="tfds build, without Apache Beam")
    args = parse(["tfds_build", *(sys.argv[1:] if argv is None else argv)])
    args.execute()
    return 0


if __name__ == "__main__":
    sys.exit(main())
