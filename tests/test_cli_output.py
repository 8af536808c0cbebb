"""A command's output in a log file: no TensorFlow / absl / CUDA start-up lines, no progress-bar frames.

``regenerate kip_digits/ipc1`` uses the fc kernel, so neural-tangents (and with it TensorFlow) is
imported; stderr is a file, not a terminal, so each progress bar is one summary line.
"""

from __future__ import annotations

import subprocess
import sys


def test_regenerate_writes_a_clean_log(tmp_path):
    env_home = str(tmp_path / "store")
    with open(tmp_path / "log", "w") as log:
        r = subprocess.run([sys.executable, "-m", "distilled_registry", "regenerate", "kip_digits/ipc1"],
                           stdout=subprocess.PIPE, stderr=log, text=True, timeout=600,
                           env={**__import__("os").environ, "DISTILLED_REGISTRY_HOME": env_home})
    text = (tmp_path / "log").read_text()
    assert r.returncode == 0, text[-3000:]
    for noise in ("cudart", "absl", "oneDNN", "I0000", "\r", "it/s]"):
        assert noise not in text, (noise, text[-2000:])
    lines = text.strip().splitlines()
    assert any(line.startswith("KIP: 300 steps in ") for line in lines), lines  # one summary line a bar
    assert len(lines) <= 5, lines
    assert "wrote kip_digits/ipc1" in r.stdout
