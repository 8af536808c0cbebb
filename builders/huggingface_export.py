"""A release family as a Hugging Face dataset repository, written locally (no network).

    distilled-registry export-hf kip_digits --out hf/kip_digits
    datasets.load_dataset("hf/kip_digits", "ipc10", split="train")

Layout of ``DIR`` (the Hub repository, ready for ``huggingface_hub.upload_folder``):

    README.md                         dataset card: YAML (configs with data_files, dataset_info
                                      features, license, task_categories, ...) and the body
    <config>/train-00000-of-00001.parquet   one row per distilled image
    <config>/preview.png              the release's image grid
    <config>/labels.png               learned vs original labels (releases whose labels are learned: LS,
                                      or KIP with learned labels)
    <config>/provenance.json          the release's provenance, unchanged (sha256 of its files)
    <config>/transform.npz            the preprocessing: ``Transform.load(path).apply(x)`` maps raw
                                      test images into the space the images live in
    <config>/croissant.json           the config described in Croissant 1.1 (mlcroissant reads its
                                      records from the Parquet file beside it), with PROV-O provenance

Features (the same as the TFDS builders'): ``image`` ``Array3D`` float32 (H, W, C), ``label``
``ClassLabel`` (the class the image was distilled for: ``class_id``, not the argmax of the label
vector), ``label_vector`` float32 list of length C (the target kernel ridge regression fits),
``class_id`` ``ClassLabel`` (the class the image was initialised from), ``index`` int64, and for the
Hub's viewer ``preview`` ``Image`` (a PNG of each image, stretched to its own range; the exact values
are ``image``).

Which releases: for each config of the family in the catalog (and any other config of the family
in the store), the catalog's version when the store holds it, else the newest stored version;
configs with nothing in the store are left out (and listed in the result). Every release is
verified (sha256 of each file) before it is read. The folder is written beside ``DIR`` and renamed
into place when complete.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path

import numpy as np

from distilled_registry import api, atomic, catalog, croissant, escape, names, output_folder, references, store
from distilled_registry import release as rel
from distilled_registry.errors import UsageError, UserError


PARQUET_NAME = "train-00000-of-00001.parquet"
CARD = "README.md"
LICENCES = {"bsd-3-clause": "bsd-3-clause", "cc-by-sa-3.0": "cc-by-sa-3.0", "cc-by-4.0": "cc-by-4.0",
            "mit": "mit", "apache-2.0": "apache-2.0", "unknown": "unknown"}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
TAGS = ["dataset-distillation", "kernel-ridge-regression", "neural-tangent-kernel", "synthetic"]


class ExportError(UserError):
    """A family that cannot be exported (nothing in the store, a bad output folder)."""


class ExportUsageError(ExportError, UsageError):
    """A bad FAMILY, ``--configs`` or ``--out`` on the command line (exit 2)."""


@dataclasses.dataclass
class ExportedConfig:
    """One config written to the export: its release and what was written for it."""

    config: str
    version: str
    path: Path
    num_examples: int
    files: list[str]


@dataclasses.dataclass
class Export:
    """What :func:`export_family` wrote: ``out``, the configs, and the configs left out (nothing stored)."""

    family: str
    out: Path
    configs: list[ExportedConfig]
    missing: list[str]

    @property
    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.out)) for p in self.out.rglob("*")
                      if p.is_file() and p.name != output_folder.marker_name(EXPORT))


def family_releases(family: str, configs: list[str] | None = None) -> tuple[list[tuple[str, str, Path]], list[str]]:
    """``([(config, version, folder)], [configs with nothing in the store])`` for ``family``."""
    if names.parse(family, need_config=False).config is not None:
        raise ExportUsageError(f"export-hf takes a family, not {family!r}: e.g. {family.split('/')[0]} "
                          f"(--configs {family.split('/')[1]} picks configs)")
    try:
        entries = {e.config: e for e in catalog.family_entries(family)}
    except catalog.CatalogError:
        entries = {}
    stored = [rn.config for rn, _ in store.local_releases() if rn.family == family]
    all_configs = list(entries) + [c for c in dict.fromkeys(stored) if c not in entries]
    if not all_configs:
        raise ExportUsageError(f"{family!r} is neither a catalog family nor in the local store {str(store.home())!r} "
                          "(`distilled-registry list` shows the families)")
    if configs:
        unknown = [c for c in configs if c not in all_configs]
        if unknown:
            raise ExportUsageError(f"{family} has no config {', '.join(map(repr, unknown))}; it has {', '.join(all_configs)}")
        all_configs = [c for c in all_configs if c in configs]
    found, missing = [], []
    for cfg in all_configs:
        rn = names.ReleaseName(family, cfg)
        present = store.versions(rn)
        if not present:
            missing.append(cfg)
            continue
        want = entries[cfg].version if cfg in entries else None
        version = want if want in present else present[-1]
        found.append((cfg, version, store.resolve(rn, version)[1]))  # checked: the release its folder names
    if not found:
        raise ExportError(f"nothing of {family} is in the local store {str(store.home())!r}; make a release with "
                          f"`distilled-registry regenerate {family}/{all_configs[0]}`")
    return found, missing


def features(image_shape: tuple[int, int, int], class_names_: list[str]):
    """The ``datasets.Features`` of an exported config."""
    import datasets

    return datasets.Features({
        "image": datasets.Array3D(shape=tuple(int(v) for v in image_shape), dtype="float32"),
        "label": datasets.ClassLabel(names=list(class_names_)),
        "label_vector": datasets.List(datasets.Value("float32"), length=len(class_names_)),
        "class_id": datasets.ClassLabel(names=list(class_names_)),
        "index": datasets.Value("int64"),
        "preview": datasets.Image(),
    })


def preview_png(image: np.ndarray) -> bytes:
    """A PNG of one (H, W, C) float image for the Hub's viewer: its own min-max stretch to 0..255.

    For looking only: the exact values are the ``image`` column (the release's preprocessed space).
    """
    from PIL import Image

    lo, hi = float(image.min()), float(image.max())
    u8 = np.round(255 * (image - lo) / (hi - lo)) if hi > lo else np.zeros(image.shape)
    u8 = u8.astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8[..., 0] if u8.shape[-1] == 1 else u8).save(buf, format="PNG")
    return buf.getvalue()


def _columns(r: api.Release) -> dict:
    n = len(r.images)
    return {"image": r.images, "label": r.class_ids.astype(np.int64), "label_vector": r.labels,
            "class_id": r.class_ids.astype(np.int64), "index": np.arange(n, dtype=np.int64),
            "preview": [{"bytes": preview_png(x), "path": None} for x in r.images]}


def parquet_bytes(r: api.Release, feats) -> tuple[bytes, int]:
    """``(parquet bytes, arrow bytes in memory)`` of the release's rows, features in the schema metadata."""
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        ds = datasets.Dataset.from_dict(_columns(r), features=feats)
        buf = io.BytesIO()
        ds.to_parquet(buf)
    finally:
        if bars:
            datasets.enable_progress_bars()
    return buf.getvalue(), int(ds.data.nbytes)


def licence_id(text: str | None) -> str:
    """A Hub licence identifier for the source's licence (``unknown`` when it has none the Hub knows)."""
    return LICENCES.get((text or "unknown").strip().lower(), "other")


def size_category(n: int) -> str:
    for limit, cat in SIZE_CATEGORIES:
        if n < limit:
            return cat
    return "n>1M"


def labels_are_learned(r: api.Release, atol: float = 1e-6) -> bool:
    """Whether the labels differ from the centred one-hot vectors of ``class_ids``."""
    c = r.labels.shape[1]
    one_hot = np.full(r.labels.shape, -1.0 / c, np.float64)
    one_hot[np.arange(len(r.labels)), r.class_ids] += 1.0
    return not np.allclose(r.labels, one_hot, atol=atol)


def labels_png(r: api.Release, class_names_: list[str], title: str) -> bytes:
    """Learned labels beside the centred one-hot labels they started from, and their mean per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, c = r.labels.shape
    order = np.argsort(r.class_ids, kind="stable")
    one_hot = np.full((n, c), -1.0 / c)
    one_hot[np.arange(n), r.class_ids] += 1.0
    learned = r.labels.astype(np.float64)
    per_class = np.stack([learned[r.class_ids == k].mean(0) if np.any(r.class_ids == k) else np.zeros(c)
                          for k in range(c)])
    lim = float(max(np.abs(learned).max(), np.abs(one_hot).max()))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), layout="constrained")
    panels = ((one_hot[order], "original: centred one-hot", "image (sorted by original class)"),
              (learned[order], "learned", "image (sorted by original class)"),
              (per_class, "learned, mean per original class", "original class"))
    for ax, (m, name, ylabel) in zip(axes, panels):
        im = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("label entry (class)")
        ax.set_ylabel(ylabel)
        if c <= 20:
            ax.set_xticks(range(c), class_names_, rotation=90, fontsize=6)
    if c <= 20:
        axes[2].set_yticks(range(c), class_names_, fontsize=6)
    fig.colorbar(im, ax=axes, fraction=0.02, label="label value")
    agree = float(np.mean(np.argmax(learned, 1) == r.class_ids))
    fig.suptitle(f"{title} (argmax of the learned label is the original class for {agree:.1%} of images)",
                 fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _fmt_acc(x) -> str:
    return "-" if x is None else f"{100 * float(x):.2f}%"


def _paper(family: str, config: str) -> dict:
    try:
        return catalog.entry(f"{family}/{config}").paper or {}
    except (catalog.CatalogError, names.BadNameError):
        return {}


# The card's numpy-only preprocessing; tests/test_builders.py runs it against Transform.apply.
NUMPY_SNIPPET = """import numpy as np

def to_release_space(raw_test_images, path):
    \"\"\"(N, H, W, C) floats in [0, 1] -> the release's space, float32.\"\"\"
    with np.load(path, allow_pickle=False) as t:
        mean, std = t["mean"], t["std"]
        zca = t["zca"] if "zca" in t.files else None
    x = (np.asarray(raw_test_images, np.float32) - mean) / std
    if zca is None:
        return x.astype(np.float32)
    v = x.reshape(len(x), -1)
    v = v - v.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norm > 0, norm, 1.0)
    return (v @ zca).reshape(x.shape).astype(np.float32)

x_test = to_release_space(raw_test_images, path)"""


def source_label(src: dict) -> str:
    """The source as the card names it: a user's own source (``kind`` in its block, pipelines/user_sources.py)
    by kind and base name (``folder:my_images``), never its local path."""
    if "kind" not in src:
        return src["name"]
    return f"{src['kind']}:{src['name'].rstrip('/').rsplit('/', 1)[-1]}"


def card(family: str, releases: list[tuple[str, api.Release, dict]], repo_id: str | None = None) -> str:
    """The dataset card (``README.md``) text.

    Args:
      releases: ``(config, release, {"features": Features, "num_bytes": int, "parquet_size": int, "learned": bool})``.
      repo_id: the Hub repository the usage snippets name (default ``<your-org>/<family>``).
    """
    from huggingface_hub import DatasetCardData

    repo = repo_id or f"<your-org>/{family}"
    first = releases[0][1]
    prov0 = first.provenance
    src = prov0["source"]
    algo = prov0["algorithm"]["name"]
    algo_name = references.ALGORITHMS.get(algo, algo)
    try:
        fam_desc = catalog.family_description(family)
    except catalog.CatalogError:
        fam_desc = None
    shown = source_label(src)
    pretty = f"{algo.upper()} {shown}: {fam_desc or family}"
    licence_text = src.get("licence") or "unknown"
    md = escape.markdown  # every text from a provenance that reaches the card goes through it
    configs, infos = [], []
    for i, (cfg, r, extra) in enumerate(releases):
        c = {"config_name": cfg, "data_files": [{"split": "train", "path": f"{cfg}/train-*.parquet"}]}
        if i == 0:
            c["default"] = True
        configs.append(c)
        infos.append({"config_name": cfg, "features": extra["features"]._to_yaml_list(),
                      "splits": [{"name": "train", "num_bytes": extra["num_bytes"], "num_examples": len(r.images)}],
                      "download_size": extra["parquet_size"], "dataset_size": extra["num_bytes"]})
    data = DatasetCardData(
        pretty_name=md(pretty),
        license=licence_id(licence_text),
        task_categories=["image-classification"],
        size_categories=[size_category(max(len(r.images) for _, r, _ in releases))],
        source_datasets=[f"extended|{md(shown)}"],
        tags=TAGS + [algo, {"kip": "kernel-inducing-points", "ls": "label-solve"}.get(algo, algo), "distilled-registry"],
        configs=configs,
        dataset_info=infos,
    )
    h, w, ch = first.images.shape[1:]
    made = ("Imported from the authors' published files by distilled-registry (see each config's provenance.json)"
            if "origin" in prov0 else "Made with distilled-registry")
    zca = ", ZCA-whitened" if prov0.get("preprocessing", {}).get("zca") else ""
    intro = (
        f"{algo_name} distilled from {md(shown)} ({md(src['num_classes'])} classes, {h}x{w}x{ch} images): each "
        "config is a small set of synthetic training images (and label vectors) on which kernel ridge regression "
        "with a neural-tangent kernel reaches the test accuracy below. Images are float32 in the release's "
        f"preprocessed space (per-channel standardised{zca}), not uint8 pixels; `<config>/transform.npz`, where "
        f"present, maps raw test images into that space. {made}, after "
        f"[{references.KIP_ICLR2021['title']}]({references.KIP_ICLR2021['url']}) ({references.KIP_ICLR2021['venue']}) and "
        f"[{references.KIP_NEURIPS2021['title']}]({references.KIP_NEURIPS2021['url']}) ({references.KIP_NEURIPS2021['venue']}); "
        f"the authors' code and data: {references.HOMEPAGE}.")
    lines = [
        "---", data.to_yaml(), "---", "",
        f"# {md(pretty)}", "",
        intro,
        "",
        "Columns: `image` (float32, " f"{h}x{w}x{ch}" "), `label` (the class the image was distilled for, the same "
        "as `class_id`; with learned labels the argmax of `label_vector` is another class for some images), "
        "`label_vector` "
        f"(float32, {md(src['num_classes'])}: the labels the kernel regression uses, centred one-hot or learned: train "
        "on these to use the set as it was distilled), "
        "`class_id` (the class the image was initialised from), `index` (row in the release's data.npz), "
        "`preview` (a PNG of the image, each stretched to its own range, for looking at; the numbers are `image`). "
        "Each config's `croissant.json` describes it in Croissant (mlcroissant reads its records, images as "
        "H x W x C).",
        "",
        "## Metrics beside the paper's", "",
        "KRR test accuracy: kernel ridge regression with the release's kernel, trained on the distilled set, on the "
        "source's full test split; *natural*: the same with the real images the run started from.", "",
        "| config | version | images | labels | KRR test accuracy | natural | reported by the authors | paper "
        "| paper reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cfg, r, extra in releases:
        m = r.provenance["metrics"]
        p = _paper(family, cfg)
        ref = p.get("reference") or p.get("note") or "-"
        authors = (m.get("reported_by_authors") or {}).get("test_accuracy")
        lines.append(f"| `{cfg}` | {r.version or '-'} | {len(r.images)} | {'learned' if extra['learned'] else 'one-hot'} "
                     f"| {_fmt_acc(m.get('krr_test_accuracy'))} | {_fmt_acc(m.get('natural_krr_test_accuracy'))} "
                     f"| {_fmt_acc(authors)} | {_fmt_acc(p.get('krr_test_accuracy'))} | {ref} |")
    lines += ["", "## Provenance", "",
              "Each config's `provenance.json` holds everything needed to judge and rerun it "
              "(`distilled-registry rerun`); the main entries:", "",
              "| | " + " | ".join(f"`{cfg}`" for cfg, _, _ in releases) + " |",
              "|---|" + "---|" * len(releases)]
    rows = [
        ("made by", lambda p: (f"imported: the authors' published file {p['origin'].get('file')}"
                               if "origin" in p else "a distillation run of distilled-registry")),
        ("source", lambda p: f"{source_label(p['source'])} ({'your own' if 'kind' in p['source'] else p['source']['origin']}; "
                             f"train {p['source']['train_size']}, "
                             f"test {p['source']['test_size']})"),
        ("source sha256 fingerprint", lambda p: f"{p['source']['fingerprint_sha256'][:16]}…"),
        ("exact copy of the source", lambda p: "yes" if p["source"].get("exact_copy") else "no"),
        ("algorithm", lambda p: f"{p['algorithm']['name']}" + (f", {p['algorithm']['steps_run']} steps"
                                                                 if "steps_run" in p["algorithm"] else "")),
        ("images per class", lambda p: str(p["config"].get("ipc"))),
        ("learned labels", lambda p: "yes" if (p.get("config", {}).get("learn_labels") or p["algorithm"]["name"] == "ls"
                                               or p["algorithm"].get("labels") == "learned") else "no"),
        ("kernel", lambda p: f"{p['kernel']['architecture']} depth {p['kernel']['depth']}, {p['kernel']['get'].upper()}, "
                             f"W_std {p['kernel']['W_std']:.4g}, b_std {p['kernel']['b_std']:g}"),
        ("KIP learning rate / target batch", lambda p: f"{p['config'].get('learning_rate')} / {p['config'].get('target_batch')}"),
        ("ridge (reg)", lambda p: f"{p['config'].get('reg'):g}"),
        ("ZCA", lambda p: "yes" if p["preprocessing"].get("zca") else "no"),
        ("seed", lambda p: str(p["seed"])),
        ("backend", lambda p: f"{p['backend']['name']} x {p['backend']['workers']}"),
        ("wall time", lambda p: f"{float(p['timing']['wall_seconds']):.1f} s"),
        ("software", lambda p: f"distilled-registry {p['environment'].get('distilled-registry')} "
                               f"(git {str((p['environment'].get('git') or {}).get('commit'))[:12]}), jax "
                               f"{p['environment'].get('jax')}, neural-tangents {p['environment'].get('neural-tangents')}"),
        ("created", lambda p: p["created"]),
        ("data.npz sha256", lambda p: f"{p['files'][rel.DATA_FILE]['sha256'][:16]}…"),
    ]
    for label, fn in rows:
        cells = []
        for _, r, _ in releases:
            try:
                cells.append(md(fn(r.provenance)))
            except (KeyError, TypeError, ValueError):
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cfg0 = releases[0][0]
    lines += [
        "", "## Usage", "",
        "With 🤗 datasets:", "",
        "```python",
        "import numpy as np",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo}", "{cfg0}", split="train")',
        'x = np.asarray(ds["image"], dtype=np.float32)         # (N, H, W, C), preprocessed space',
        'y = np.asarray(ds["label_vector"], dtype=np.float32)  # (N, C): the labels to regress on',
        "```", "",
        "Map raw test images into the same space before evaluating on them (a model trained on these "
        "images sees only that space: skipping this step gives near-chance accuracy). The preprocessing, "
        "for raw images `x` of shape (N, H, W, C) scaled to [0, 1]:", "",
        "- per channel: `x' = (x - mean[c]) / std[c]`, with the training split's statistics;",
        "- with ZCA (where the config says so): each image flattened to `v` of length `D = H*W*C`, "
        "`v <- (v - mean(v)) / ||v - mean(v)||` (its own mean and norm), then `v @ zca`, and back to (H, W, C).",
        "", "`<config>/transform.npz` holds `mean` and `std` (float32, (C,)), `zca` (float32, (D, D), only "
        "where ZCA is on) and `meta_json` (uint8 bytes of a JSON record: format, image shape, parameters). "
        "With numpy alone:", "",
        "```python",
        "from huggingface_hub import hf_hub_download",
        f'path = hf_hub_download("{repo}", "{cfg0}/transform.npz", repo_type="dataset")',
        NUMPY_SNIPPET,
        "```", "",
        "or with this package: `distilled_registry.transform.Transform.load(path).apply(raw_test_images)`.", "",
        "With TensorFlow Datasets (`pip install distilled-registry`; the builder reads the local store or the "
        "release's URL and checks its sha256):", "",
        "```python",
        "import distilled_registry, tensorflow_datasets as tfds",
        "",
        f'ds = tfds.load("{family}/{cfg0}", split="train")          # with TensorFlow',
        f'src = tfds.data_source("{family}/{cfg0}", split="train")  # random access, without TensorFlow',
        "```", "",
        "## Preview", "",
    ]
    for cfg, r, extra in releases:
        lines += [f"`{cfg}`:", "", f"![{cfg} preview]({cfg}/preview.png)", ""]
    learned = [(cfg, r) for cfg, r, extra in releases if extra["learned"]]
    if learned:
        lines += ["## Learned labels", "",
                  "Each release's learned label vectors beside the centred one-hot vectors of the classes its images "
                  "started from, and entry by entry.", ""]
        for cfg, _ in learned:
            lines += [f"`{cfg}`:", "", f"![{cfg} learned vs original labels]({cfg}/labels.png)", ""]
    lines += [
        "## Licence", "",
        f"Inherited from the source dataset, {md(shown)}: {md(licence_text)}"
        + (f" ({md(src['homepage'])})" if src.get("homepage") else "") + ".", "",
        "## Citation", "",
        *([f"The source dataset, as given when it was distilled (`--citation`): {md(src['citation'])}", ""]
          if "citation" in src else []),  # a user's own source (pipelines/user_sources.py)
        "```bibtex", references.BIBTEX.rstrip(), "```", "",
    ]
    return "\n".join(lines)


def export_family(family: str, out: str | os.PathLike, configs: list[str] | None = None,
                  repo_id: str | None = None, overwrite: bool = False) -> Export:
    """Write the Hub repository layout of ``family`` to ``out`` (see the module docstring).

    Raises:
      ExportError: nothing of the family is stored.
      FolderRefused: ``out`` exists and is not an earlier export (``.distilled-registry-export-hf`` marker, nothing
        unlisted in it), or it is one and ``overwrite`` is False (:func:`output_folder.claim`).
      ReleaseError: a stored release fails verification.
    """
    out = Path(out)
    output_folder.claim(out, EXPORT, replace=overwrite)  # rule A: new, or an earlier export (with --overwrite)
    found, missing = family_releases(family, configs)
    loaded = []
    for cfg, version, path in found:
        r = api.load_path(path)
        r.version = r.version or version
        names_ = r.class_names
        feats = features(r.images.shape[1:], names_)
        loaded.append((cfg, path, r, names_, feats))
    with atomic.staged_dir(out) as tmp:
        written, card_rows = [], []
        for cfg, path, r, names_, feats in loaded:
            d = tmp / cfg
            d.mkdir()
            pq, nbytes = parquet_bytes(r, feats)
            (d / PARQUET_NAME).write_bytes(pq)
            files = [PARQUET_NAME]
            # the release's own files, by the names the export layout fixes (never a name read from the
            # provenance as a destination); each source checked by rel.member: plain, listed, no link
            listed = r.provenance["files"]
            transform = rel.transform_path(path, r.provenance, missing_ok=True)
            for src, fname in ((rel.member(path, rel.PROVENANCE_FILE, listed), rel.PROVENANCE_FILE),
                               (transform, rel.TRANSFORM_FILE),
                               (rel.member(path, "preview.png", listed) if "preview.png" in listed else None,
                                "preview.png")):
                if src is not None:  # read bounded, and matching its recorded sha256 (rule B)
                    (d / fname).write_bytes(rel.read_member(path, src.name, r.provenance))
                    files.append(fname)
            if "preview.png" not in files:
                from distilled_registry import preview

                (d / "preview.png").write_bytes(preview.grid_png([(cfg, r.images, r.class_ids)], names_,
                                                                 labels=[r.labels]))
                files.append("preview.png")
            learned = labels_are_learned(r)
            if learned:
                (d / "labels.png").write_bytes(labels_png(r, names_, f"{family}/{cfg}: learned vs original labels"))
                files.append("labels.png")
            (d / croissant.CROISSANT_FILE).write_bytes(croissant_bytes(r, d, files))
            files.append(croissant.CROISSANT_FILE)
            written.append(ExportedConfig(cfg, r.version, path, len(r.images), [f"{cfg}/{f}" for f in files]))
            card_rows.append((cfg, r, {"features": feats, "num_bytes": nbytes, "parquet_size": len(pq),
                                       "learned": learned}))
        (tmp / CARD).write_text(card(family, card_rows, repo_id))
        output_folder.mark(tmp, EXPORT)
        rel.move_into_place(tmp, out, replace=overwrite, check=lambda p: output_folder.check(p, EXPORT))
    return Export(family, out, written, missing)


EXPORT = "export-hf"  # output_folder's marker in the export: .distilled-registry-export-hf (never uploaded)
EXPORT_FILES = frozenset({PARQUET_NAME, "preview.png", "labels.png", "provenance.json", "transform.npz",
                          "croissant.json"})


def croissant_bytes(r: api.Release, folder: Path, files: list[str]) -> bytes:
    """``<config>/croissant.json``: the config in Croissant 1.1 (:func:`distilled_registry.croissant.jsonld`),
    its records read from the export's Parquet file, its distribution the ``files`` written in ``folder``."""
    digests = {f: rel.digest((folder / f).read_bytes()) for f in files}
    doc = croissant.jsonld(r.provenance, digests, r.images.shape[1:], r.labels.shape[1], records_file=PARQUET_NAME)
    return (json.dumps(doc, indent=2) + "\n").encode()


def validate_card(text: str) -> dict:
    """Check a dataset card offline, the way ``datasets`` and ``huggingface_hub`` read it.

    Checks: the YAML block parses with no duplicate keys (``datasets``' loader); it builds a
    ``huggingface_hub.DatasetCard`` and ``DatasetCardData``; ``datasets`` reads its ``configs``
    (``MetadataConfigs``, which checks each ``data_files``) and its ``dataset_info`` (features of
    every config); license, task_categories, size_categories (one of ``datasets``' known values),
    source_datasets and pretty_name are present. ``DatasetCard.validate()`` itself asks the Hub's
    server, so it is not called here. Returns the parsed YAML; raises ValueError naming the problem.
    """
    import yaml
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs, _NoDuplicateSafeLoader, _split_yaml_from_readme
    from huggingface_hub import DatasetCard

    block, _ = _split_yaml_from_readme(text)
    if block is None:
        raise ValueError("the card has no YAML block between '---' lines")
    meta = yaml.load(block, Loader=_NoDuplicateSafeLoader) or {}
    c = DatasetCard(text)
    if c.data.to_dict() != {k: v for k, v in meta.items()}:
        raise ValueError("huggingface_hub reads the card's YAML differently from the YAML parser")
    for key in ("license", "task_categories", "size_categories", "source_datasets", "pretty_name", "tags",
                "configs", "dataset_info"):
        if not meta.get(key):
            raise ValueError(f"the card's YAML lacks {key!r}")
    known_sizes = json.loads((Path(__import__("datasets").__file__).parent / "utils" / "resources" /
                              "size_categories.json").read_text())
    bad = [s for s in meta["size_categories"] if s not in known_sizes]
    if bad:
        raise ValueError(f"size_categories {bad} are not among {known_sizes}")
    configs = MetadataConfigs.from_dataset_card_data(c.data)
    infos = DatasetInfosDict.from_dataset_card_data(c.data)
    if set(configs) != set(infos):
        raise ValueError(f"configs {sorted(configs)} and dataset_info {sorted(infos)} name different configs")
    for name, info in infos.items():
        if info.features is None or not info.splits:
            raise ValueError(f"dataset_info of {name!r} lacks features or splits")
    return meta
