"""The consumer libraries' conventions, tried with TFDS's default data_dir (no ``data_dir=`` anywhere).

Each check runs in a fresh process whose ``HOME`` is a temporary folder, with ``$TFDS_DATA_DIR`` and
``$DISTILLED_REGISTRY_HOME`` unset: TFDS prepares into ``~/tensorflow_datasets`` and the builder
reads the store at ``~/.cache/distilled_registry``, both under that ``HOME`` (TFDS fixes its default
data_dir when it is imported, so these cannot run in the test process). The release is a dummy
(random images and label vectors), so the argmax of a label vector is mostly not its class.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from distilled_registry import catalog, cli
from distilled_registry import release as rel

NAME = "kip_digits/ipc10"
REPO = Path(__file__).resolve().parents[1]


def _env(home: Path, **extra: str) -> dict:
    """The environment of a fresh process with ``home`` as ``HOME`` and every default left to it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TFDS_DATA_DIR", "DISTILLED_REGISTRY_HOME", "DISTILLED_REGISTRY_URL_BASE",
                        "DISTILLED_REGISTRY_RECORDS")}
    return {**env, "HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _run(args: list[str], env: dict, check: bool = True, timeout: int = 240) -> subprocess.CompletedProcess:
    Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=str(env.get("HOME", REPO)))
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _dummy_home(home: Path, name: str = NAME) -> dict[str, np.ndarray]:
    """A dummy release of ``name`` in the default store under ``home``; returns its arrays."""
    from distilled_registry.builders import builder_testing

    _, arrays = builder_testing.write_dummy_release(name, home / ".cache" / "distilled_registry")
    return arrays


READ_BOTH = """
import json, sys, numpy as np
import distilled_registry, tensorflow_datasets as tfds
name, first = sys.argv[1], sys.argv[2]
def load():
    return [int(r["class_id"]) for r in tfds.as_numpy(tfds.load(name, split="train"))]
def source():
    src = tfds.data_source(name, split="train")
    return [int(src[i]["class_id"]) for i in range(len(src))]
out = {}
for f in ((load, source) if first == "load" else (source, load)):
    out[f.__name__] = f()
ds, info = tfds.load(name, split="train", as_supervised=True, with_info=True)
out["supervised"] = [int(y) for _, y in tfds.as_numpy(ds)]
out["licence"] = info.redistribution_info.license
out["data_dir"] = str(info.data_dir)
out["file_format"] = info.file_format.value
print(json.dumps(out))
"""


@pytest.fixture(scope="module", params=["load", "source"])
def default_dir_run(request, tmp_path_factory):
    """``tfds.load`` then ``tfds.data_source`` (or the reverse), then ``as_supervised``, all on the default data_dir."""
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    arrays = _dummy_home(home)
    r = _run(["-c", READ_BOTH, NAME, request.param], _env(home))
    return home, arrays, json.loads(r.stdout.strip().splitlines()[-1])


def test_load_and_data_source_share_the_default_data_dir_in_either_order(default_dir_run):
    home, arrays, out = default_dir_run
    assert out["load"] == out["source"] == arrays["class_ids"].tolist()
    assert out["data_dir"] == str(home / "tensorflow_datasets" / "kip_digits" / "ipc10" / "1.0.0")
    assert out["file_format"] == "parquet"  # random access and tf.data both read it


def test_as_supervised_gives_the_class_not_the_argmax_of_the_label_vector(default_dir_run):
    _, arrays, out = default_dir_run
    assert out["supervised"] == arrays["class_ids"].tolist()
    assert (np.argmax(arrays["labels"], axis=1) != arrays["class_ids"]).sum() > 0  # the two differ here


def test_dataset_info_json_carries_the_source_licence(default_dir_run):
    home, _, out = default_dir_run
    assert out["licence"].startswith("BSD-3-Clause, inherited from the source dataset digits")
    info = json.loads((home / "tensorflow_datasets" / "kip_digits" / "ipc10" / "1.0.0" / "dataset_info.json").read_text())
    assert info["redistributionInfo"]["license"] == out["licence"]
    assert "https://spdx.org/licenses/BSD-3-Clause.html" in out["licence"]


def test_the_documented_build_command_builds_a_family_folder(tmp_path):
    """README: ``python -m distilled_registry.cli.tfds_build builders/kip_digits --config ipc10``
    (``tfds build`` itself needs apache_beam); it prepares into the default data_dir."""
    home = tmp_path / "home"
    arrays = _dummy_home(home)
    _run(["-m", "distilled_registry.cli.tfds_build", str(REPO / "builders" / "kip_digits"), "--config", "ipc10"],
         _env(home))
    prepared = home / "tensorflow_datasets" / "kip_digits" / "ipc10" / "1.0.0"
    info = json.loads((prepared / "dataset_info.json").read_text())
    assert info["fileFormat"] == "parquet" and int(info["splits"][0]["shardLengths"][0]) == len(arrays["images"])
    readme = (REPO / "README.md").read_text()
    assert "python -m distilled_registry.cli.tfds_build builders/kip_digits --config ipc10" in readme


def test_builders_writes_into_out_and_never_into_an_installed_package(tmp_path, monkeypatch, capsys):
    from distilled_registry.builders import builder_folders

    out = tmp_path / "folders"
    assert cli.main(["builders", "--out", str(out)]) == 0
    assert builder_folders.stale(out) == []
    capsys.readouterr()
    assert cli.main(["builders", "--check", "--out", str(out)]) == 0
    # its count is len(builder_folders.expected(out)), read here rather than built again (~2 s each)
    checked = re.fullmatch(r"all (\d+) builder files under (.+) match the catalog", capsys.readouterr().out.strip())
    assert checked and checked[2] == str(out) and int(checked[1]) > 100, checked
    (out / "kip_digits" / "README.md").write_text("changed\n")
    assert cli.main(["builders", "--check", "--out", str(out)]) == 1
    # an installed package: its builders/ is in site-packages; without --out nothing is written, exit 2
    installed = tmp_path / "lib" / "python3" / "site-packages" / "distilled_registry" / "builders"
    installed.mkdir(parents=True)
    monkeypatch.setattr(builder_folders, "BUILDERS_DIR", installed)
    capsys.readouterr()
    assert cli.main(["builders"]) == 2
    assert "--out" in capsys.readouterr().err
    assert list(installed.iterdir()) == []
    assert builder_folders.is_checkout(REPO / "builders")
    (out / "file").write_text("x")
    assert cli.main(["builders", "--out", str(out / "file")]) == 2


def test_checksums_tsv_is_written_and_tfds_checks_downloads_against_it(tmp_path, monkeypatch):
    """A release of ours recorded at an http URL gets url, size and sha256 rows in its family's
    checksums.tsv; a builder loaded from that folder the TFDS way downloads a served copy that
    matches, and refuses one that does not (here a consistent forgery that only checksums.tsv catches)."""
    from tensorflow_datasets.core.download import checksums as tfds_checksums

    from distilled_registry import recording
    from distilled_registry.builders import builder_testing
    from test_builders import serve

    published = tmp_path / "published"
    release, arrays = builder_testing.write_dummy_release(NAME, published)
    monkeypatch.setenv("DISTILLED_REGISTRY_RECORDS", str(tmp_path / "records.json"))
    with serve(published) as base:
        url = f"{base}/kip_digits/ipc10/1.0.0/"
        record = recording.record_release(NAME, release, location=url)
        assert record["data_size"] == (release / "data.npz").stat().st_size
        folders = tmp_path / "folders"
        assert cli.main(["builders", "--out", str(folders)]) == 0
        infos = tfds_checksums.load_url_infos(folders / "kip_digits" / "checksums.tsv")
        assert {u: (i.size, i.checksum) for u, i in infos.items()} == {
            url + "data.npz": (record["data_size"], record["data_sha256"]),
            url + "provenance.json": (record["provenance_size"], record["provenance_sha256"])}

        # no records now: only the folder's checksums.tsv knows the release; the URL comes from the base
        build = ["-m", "distilled_registry.cli.tfds_build", str(folders / "kip_digits"), "--config", "ipc10"]
        _run(build, _env(tmp_path / "home1", DISTILLED_REGISTRY_URL_BASE=base))
        got = json.loads((tmp_path / "home1" / "tensorflow_datasets" / "kip_digits" / "ipc10" / "1.0.0" /
                          "dataset_info.json").read_text())
        assert int(got["splits"][0]["shardLengths"][0]) == len(arrays["images"])

        # a consistent forgery: other arrays, and a provenance.json that lists their sha256
        forged = builder_testing.dummy_arrays(catalog.entry(NAME), seed=5)
        (release / "data.npz").write_bytes(rel.data_bytes(**forged))
        prov = json.loads((release / "provenance.json").read_text())
        prov["files"]["data.npz"] = rel.digest((release / "data.npz").read_bytes())
        (release / "provenance.json").write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
        r = _run(build, _env(tmp_path / "home2", DISTILLED_REGISTRY_URL_BASE=base), check=False)
        assert r.returncode != 0
        assert "checksums.tsv lists" in r.stderr and url + "provenance.json" in r.stderr
        assert not (tmp_path / "home2" / "tensorflow_datasets" / "kip_digits" / "ipc10" / "1.0.0").exists()
