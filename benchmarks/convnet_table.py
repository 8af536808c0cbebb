"""The README's "ConvNet releases" table and its PNG, generated from the committed releases' provenance.

Reads every release folder under ``benchmarks/results/runs/`` (``<name>/provenance.json``) whose
kernel is a ConvNet (``convnet``, ``convnet3``), finds its catalog config (family and images per
class), and writes one row per release: config, method, the authors' figure (the catalog's: the
paper's, or the authors' own index for the published Label Solve sets), ours (KRR test accuracy on
the full test split), the natural baseline on the same real images, the device
(``environment.device``), the wall time (``timing.wall_seconds``), and every setting that differs
from the authors' (the release's config against the catalog spec, the authors' KIP setting of
:data:`AUTHORS_KIP`, and a lossy copy of the source). Each release's files are checked against their
sha256 first; a release that fails is listed as such, without its figures. Nothing is typed by hand.

The table goes between ``<!-- convnet-table:start -->`` and ``<!-- convnet-table:end -->`` in the
README; ``--check`` writes nothing and exits 1 when the README's table is not the script's output
(tests/test_convnet_table.py runs it). The PNG (``benchmarks/results/convnet_table.png``): per
config, the authors' figure, ours and the natural baseline.

    .venv/bin/python benchmarks/convnet_table.py            # write the README table and the PNG
    .venv/bin/python benchmarks/convnet_table.py --check    # exit 1 if the README's table is stale
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from distilled_registry import atomic
from distilled_registry.distill_config import drop_steps

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "benchmarks" / "results" / "runs"
README = ROOT / "README.md"
PNG = ROOT / "benchmarks" / "results" / "convnet_table.png"
START, END = "<!-- convnet-table:start -->", "<!-- convnet-table:end -->"
CONVNETS = ("convnet", "convnet3")
# The authors' KIP-ConvNet training setting (Nguyen, Novak, Xiao, Lee, NeurIPS 2021): class-balanced target
# batches of 5000 resampled every step, Adam with learning rate 0.04, and data augmentation.
AUTHORS_KIP = {"target_batch": 5000, "learning_rate": 0.04, "augmentation": True}
_COMPARED = ("ipc", "steps", "learning_rate", "target_batch", "learn_labels", "reg", "ls_reg", "zca", "zca_reg", "tile")


def releases(runs: Path) -> list[tuple[Path, dict]]:
    """``(folder, provenance)`` of every ConvNet release under ``runs``, sorted by folder name."""
    out = []
    for prov_file in sorted(runs.glob("*/provenance.json")) if runs.is_dir() else []:
        prov = json.loads(prov_file.read_text())
        if (prov.get("kernel") or {}).get("architecture") in CONVNETS and "config" in prov:
            out.append((prov_file.parent, prov))
    return out


def catalog_entry(prov: dict):
    """The catalog config of a release: its family (``prov["name"]``) at its images per class, preferring the
    config whose spec has the release's kernel architecture and ZCA; None when the catalog has none."""
    from distilled_registry import catalog

    cfg = prov["config"]
    same = [e for e in catalog.entries() if e.family == prov["name"] and e.spec and e.spec["ipc"] == cfg["ipc"]]
    if not same:
        return None

    def score(e) -> tuple:
        return (e.spec["kernel"]["architecture"] == cfg["kernel"]["architecture"], e.spec["zca"] == cfg["zca"],
                e.config == f"ipc{cfg['ipc']}")

    return max(same, key=score)


def authors_figure(e) -> tuple[float | None, str]:
    """``(accuracy, where from)``: the catalog's paper figure, else the authors' index figure of its published set."""
    if e is None:
        return None, "no catalog config"
    acc = e.paper.get("krr_test_accuracy")
    if acc is not None:
        return float(acc), e.paper.get("note") or "the catalog's paper figure"
    rep = (e.published or {}).get("reported") or {}
    if rep.get("test_accuracy") is not None:
        return float(rep["test_accuracy"]), "the authors' index"
    return None, "not in the catalog"


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def differences(prov: dict, e, known: dict | None = None) -> list[str]:
    """Settings of the release that differ from the authors': the catalog spec, the KIP setting, the source copy;
    ``known`` (data.npz sha256 -> provenance of the committed releases) lets a chain of ``--init-from`` runs name
    every run's steps."""
    cfg = prov["config"]
    out = []
    if e is not None:
        spec = {**e.spec, "tile": cfg.get("tile")} if "tile" not in e.spec else e.spec
        k, ks = cfg["kernel"], spec["kernel"]
        if (k["architecture"], k["depth"], k["get"]) != (ks["architecture"], ks["depth"], ks["get"]):
            out.append(f"kernel {k['architecture']} depth {k['depth']} {k['get']} "
                       f"(catalog: {ks['architecture']} depth {ks['depth']} {ks['get']})")
        for key in _COMPARED:
            if key in spec and cfg.get(key) != spec[key]:
                out.append(f"{key.replace('_', ' ')} {_value(cfg.get(key))} (catalog: {_value(spec[key])})")
    if cfg["algorithm"] == "kip":
        chain = lineage(prov, known or {})
        if chain:  # --init-from: the start releases' own steps first (oldest first), then this run's on a fresh Adam
            out.append(_chain_steps(chain, cfg["steps"]))
        out += _kip_settings(cfg, out)
        if cfg.get("ls_finish"):
            rows = ((prov.get("algorithm") or {}).get("ls_finish") or {}).get("targets")
            out.append(f"labels solved after the last step (--ls-finish) against {rows:,} training images "
                       "(authors: the learned labels)" if rows else "labels solved after the last step (--ls-finish)")
        out.append("no augmentation (authors: with)")
    if cfg["algorithm"] == "ls" and cfg.get("ls_targets") is not None:
        out.append(f"labels solved against {cfg['ls_targets']:,} class-balanced training images "
                   f"(authors: the whole training split)")
    src = prov.get("source") or {}
    if src.get("exact_copy") is False:
        out.append(f"a lossy copy of {src.get('name')} ({src.get('origin', 'not the exact files')}; authors: exact)")
    if prov["config"].get("seed", 0) != 0:
        out.append(f"seed {prov['config']['seed']}")
    return out


def lineage(prov: dict, known: dict) -> list[dict]:
    """The ``started_from_release`` records behind a release, oldest first: its own start release's, then (found
    among ``known`` by data.npz sha256) that release's start, and so on. A start release that itself started from
    one not in ``known`` ends the chain with ``{"data_sha256": ..., "missing": True}`` first."""
    out: list[dict] = []
    start = (prov.get("algorithm") or {}).get("started_from_release")
    while start and len(out) <= len(known):  # bounded: a chain longer than the releases known is a cycle
        out.insert(0, start)
        sha = (start.get("config") or {}).get("init_from")
        parent = known.get(start.get("data_sha256"))
        if parent is None:
            if sha:
                out.insert(0, {"data_sha256": sha, "missing": True})
            break
        start = (parent.get("algorithm") or {}).get("started_from_release")
    return out


def _chain_steps(chain: list[dict], own: int) -> str:
    """``steps 1-a are those of ..., steps a+1-b those of the start release (...), the last n this run's ...``."""
    parts, done = [], 0
    for i, rec in enumerate(chain):
        if rec.get("missing"):
            parts.append(f"the first steps those of release {rec['data_sha256'][:12]} (not committed here)")
            continue
        n = rec.get("steps_run") or 0
        settings, sha = ", ".join(_kip_settings(rec.get("config") or {}, [])), rec["data_sha256"][:12]
        who = f"the start release ({sha}: {settings})" if i == len(chain) - 1 else f"release {sha} ({settings})"
        if chain[0].get("missing"):  # the count before is not known: no step numbers
            parts.append(f"then {n:,} steps those of {who}")
        else:
            parts.append(f"steps {done + 1:,}-{done + n:,} {'are ' if not parts else ''}those of {who}")
        done += n
    return f"{', '.join(parts)}, the last {own:,} this run's from its images and labels with a fresh Adam"


def _kip_settings(cfg: dict, said: list[str]) -> list[str]:
    """A KIP config's target batch, learning rate and drops where they differ from the authors' (and are not in
    ``said`` already)."""
    out = []
    for key in ("target_batch", "learning_rate"):
        if key in cfg and cfg[key] != AUTHORS_KIP[key] and not any(s.startswith(key.replace("_", " ")) for s in said):
            out.append(f"{key.replace('_', ' ')} {_value(cfg[key])} (authors: {_value(AUTHORS_KIP[key])})")
    if cfg.get("lr_drop_at") is not None:
        steps = " and again from step ".join(map(str, drop_steps(cfg["lr_drop_at"])))
        out.append(f"learning rate x{_value(cfg['lr_drop_scale'])} from step {steps} "
                   f"(authors: constant {_value(AUTHORS_KIP['learning_rate'])})")
    return out


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _wall(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.2f} h"


def _run_time(prov: dict, known: dict | None = None) -> str:
    """The run's wall time; a resumed run's adds the time its checkpoint recorded for the processes before, or
    says that time was not recorded; a run started from other releases then gives each one's steps and time."""
    timing = prov.get("timing") or {}
    wall, resumed = timing.get("wall_seconds"), (prov.get("algorithm") or {}).get("resumed_from_step") or 0
    chain = lineage(prov, known or {})
    if chain:  # --init-from: this run's time, then the start releases' own, nearest first
        own = _run_time({"timing": timing, "algorithm": {"resumed_from_step": resumed}})
        said = []
        for i, rec in enumerate(reversed(chain)):
            if rec.get("missing"):
                said.append(f"those of release {rec['data_sha256'][:12]} (not committed here)")
            elif i == 0:
                said.append(f"the start release's {rec.get('steps_run'):,} steps ({_start_time(rec)})")
            else:
                said.append(f"the {rec.get('steps_run'):,} steps before those ({_start_time(rec)})")
        return f"{own} after " + " and ".join(said)
    if not resumed or wall is None:
        return _wall(wall)
    before = timing.get("seconds_before_resume")
    if before is None:
        return f"{_wall(wall)} after a resume at step {resumed:,} (the time before it not recorded)"
    return f"{_wall(before + wall)} (resumed at step {resumed:,})"


def _start_time(start: dict) -> str:
    """A start release's run time from its recorded timing (its resume step is not carried, only whether it
    resumed: ``seconds_before_resume`` is there)."""
    t = start.get("timing") or {}
    if "seconds_before_resume" not in t:
        return _wall(t.get("wall_seconds"))
    if t["seconds_before_resume"] is None:
        return f"{_wall(t.get('wall_seconds'))} after a resume, the time before it not recorded"
    return _wall(t["seconds_before_resume"] + t.get("wall_seconds", 0))


def _device(prov: dict) -> str:
    d = (prov.get("environment") or {}).get("device") or {}
    if not d:
        return "not recorded"
    proc = (d.get("processor") or {}).get("model")
    kind = d.get("device_kind", "?")
    return f"{d.get('device_count', '?')} x {d.get('platform', '?')} {kind}" + (f" ({proc})" if proc else "")


def rows(runs: Path) -> list[dict]:
    """One row per ConvNet release under ``runs`` (verified against its sha256 first)."""
    from distilled_registry import release as rel

    out, found = [], releases(runs)
    known = {((prov.get("files") or {}).get("data.npz") or {}).get("sha256"): prov for _, prov in found}
    known.pop(None, None)
    for path, prov in found:
        e = catalog_entry(prov)
        acc, where = authors_figure(e)
        cfg, m = prov["config"], prov.get("metrics") or {}
        k = cfg["kernel"]
        verified = all(c.ok for c in rel.verify(path))
        steps = " + ".join([*(f"{r['steps_run']:,}" for r in lineage(prov, known) if not r.get("missing")),
                            f"{cfg['steps']:,}"])
        method = f"{cfg['algorithm'].upper()}, {k['architecture']} depth {k['depth']} {k['get'].upper()}" + (
            f", {steps} steps" if cfg["algorithm"] == "kip" else "")
        out.append({"folder": path.name, "config": e.name if e else f"{prov['name']}/ipc{cfg['ipc']}",
                    "method": method, "authors": acc, "authors_from": where,
                    "ours": m.get("krr_test_accuracy") if verified else None,
                    "natural": m.get("natural_krr_test_accuracy") if verified else None,
                    "device": _device(prov), "wall": _run_time(prov, known),
                    "differences": differences(prov, e, known), "verified": verified})
    return out


def table(rs: list[dict], runs_label: str, png_label: str) -> str:
    """The markdown block that goes between the markers."""
    if not rs:
        return (f"No ConvNet release is committed under `{runs_label}` yet: the table fills in when one is "
                "(`benchmarks/convnet_table.py` writes it from their provenance).")
    lines = ["| config | method | authors' figure | ours (KRR test accuracy) | natural (same real images) | device | "
             "wall time | settings that differ from the authors' |", "|---|---|---:|---:|---:|---|---:|---|"]
    for r in rs:
        ours = _pct(r["ours"]) if r["verified"] else "files fail their sha256: not shown"
        lines.append(f"| `{r['config']}` ([{r['folder']}]({runs_label}/{r['folder']})) | {r['method']} | "
                     f"{_pct(r['authors'])} ({r['authors_from']}) | {ours} | {_pct(r['natural'])} | {r['device']} | "
                     f"{r['wall']} | {'; '.join(r['differences']) or 'none'} |")
    lines += ["", f"![ConvNet releases: ours vs the authors]({png_label})"]
    return "\n".join(lines)


def png(rs: list[dict], path: Path) -> None:
    """Bars per config: the authors' figure, ours, the natural baseline (KRR test accuracy, %)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rs) + 2), 3.5))
    x = np.arange(len(rs))
    for i, (key, label) in enumerate((("authors", "authors"), ("ours", "ours"), ("natural", "natural"))):
        vals = [100 * r[key] if r[key] is not None else 0 for r in rs]
        ax.bar(x + (i - 1) * 0.27, vals, 0.27, label=label)
    ax.set_xticks(x, [f"{r['config']}\n{r['folder']}" for r in rs], fontsize=7)
    ax.set_ylabel("KRR test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
    ax.set_title("ConvNet releases: ours vs the authors (0: no figure)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, buf.getvalue())


def replace_block(text: str, block: str) -> str:
    """``text`` with what lies between the markers replaced by ``block``; ValueError without both markers."""
    i, j = text.find(START), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"the README has no {START} ... {END} block")
    return text[: i + len(START)] + "\n" + block + "\n" + text[j:]


def _relative(path: Path, readme: Path) -> str:
    """``path`` as the README links it: relative to the README's folder where it lies under it."""
    p, base = path.resolve(), readme.resolve().parent
    return p.relative_to(base).as_posix() if p.is_relative_to(base) else str(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default=str(RUNS), help="folder of release folders (default benchmarks/results/runs)")
    p.add_argument("--readme", default=str(README), help="the markdown file holding the markers (default README.md)")
    p.add_argument("--png", default=str(PNG), help="where the PNG goes (default benchmarks/results/convnet_table.png)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the README's table is stale")
    a = p.parse_args(argv)
    runs, readme, png_path = Path(a.runs), Path(a.readme), Path(a.png)
    rs = rows(runs)
    text = readme.read_text()
    try:
        new = replace_block(text, table(rs, _relative(runs, readme), _relative(png_path, readme)))
    except ValueError as e:
        print(f"convnet_table: {e}", file=sys.stderr)
        return 2
    if a.check:
        if new != text:
            print(f"convnet_table: the table in {readme} is not what the releases under {runs} give; run "
                  "`.venv/bin/python benchmarks/convnet_table.py` and commit the result", file=sys.stderr)
            return 1
        return 0
    if new != text:
        atomic.write_text(readme, new)
    if rs:
        png(rs, png_path)
    print(f"{len(rs)} ConvNet release(s) from {runs}: table in {readme}" + (f", picture {a.png}" if rs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
