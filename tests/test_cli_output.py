"""A command's output in a log file: no TensorFlow / absl / CUDA start-up lines, no progress-bar frames.

The log is that of ``regenerate kip_digits/ipc10 --json`` run as a child with stderr to a file (conftest's
``regenerated``, which other modules read the store of). It uses the fc kernel, so neural-tangents (and with it
TensorFlow) is imported; stderr is a file, not a terminal, so each progress bar is one summary line.
"""

from __future__ import annotations

import json


def test_regenerate_writes_a_clean_log(regenerated):
    text = (regenerated / "stderr.log").read_text()
    for noise in ("cudart", "absl", "oneDNN", "I0000", "\r", "it/s]"):
        assert noise not in text, (noise, text[-2000:])
    lines = text.strip().splitlines()
    assert any(line.startswith("KIP: 300 steps in ") for line in lines), lines  # one summary line a bar
    assert len(lines) <= 5, lines
    out = json.loads((regenerated / "stdout.json").read_text())  # --json: the release written, machine-readable
    assert out["name"] == "kip_digits/ipc10" and out["version"] == "1.0.0" and 0.5 < out["krr_test_accuracy"] <= 1
    assert {"data.npz", "provenance.json"} - {"provenance.json"} <= set(out["files"])


def test_every_argument_of_every_command_has_help():
    import argparse

    from distilled_registry.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [(name, act.dest) for name, sp in sub.choices.items() for act in sp._actions
               if not isinstance(act, argparse._HelpAction) and not act.help]
    assert not missing, missing
    assert len(sub.choices) >= 13  # every command is looked at


def test_builders_check_json(capsys):
    from distilled_registry import cli

    assert cli.main(["builders", "--check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stale"] == [] and out["checked"] > 12
