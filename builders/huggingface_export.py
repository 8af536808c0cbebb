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
from distilled_registry import release_columns as columns
from distilled_registry.errors import UsageError, UserError
from distilled_registry.provenance import Kernel, Provenance, Run, Source


PARQUET_NAME = "train-00000-of-00001.parquet"
CARD = "README.md"
CARD_TEMPLATE = Path(__file__).with_name("templates") / "dataset_card.md"  # the card's Markdown body (Jinja)
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
    """The ``datasets.Features`` of an exported config: the release's columns (:data:`release_columns.EXAMPLE`:
    class labels as ``ClassLabel``, an (H, W, C) image as ``Array3D``, a vector as a fixed-length ``List``,
    a scalar as ``Value``), and ``preview``, an ``Image`` for the Hub's viewer."""
    import datasets

    def feature(col: columns.Column):
        shape = columns.shape(col, image_shape, len(class_names_))
        if col.class_label:
            return datasets.ClassLabel(names=list(class_names_))
        if len(shape) == 3:
            return datasets.Array3D(shape=shape, dtype=col.dtype)
        if len(shape) == 1:
            return datasets.List(datasets.Value(col.dtype), length=shape[0])
        return datasets.Value(col.dtype)

    return datasets.Features({**{col.name: feature(col) for col in columns.EXAMPLE}, "preview": datasets.Image()})


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
    """The rows of an exported config: the release's columns (:func:`release_columns.rows`) and ``preview``."""
    return {**columns.rows(r.images, r.labels, r.class_ids, columns.EXAMPLE),
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
    from matplotlib.figure import Figure  # outside pyplot: the caller's backend and figures untouched

    n, c = r.labels.shape
    order = np.argsort(r.class_ids, kind="stable")
    one_hot = np.full((n, c), -1.0 / c)
    one_hot[np.arange(n), r.class_ids] += 1.0
    learned = r.labels.astype(np.float64)
    per_class = np.stack([learned[r.class_ids == k].mean(0) if np.any(r.class_ids == k) else np.zeros(c)
                          for k in range(c)])
    lim = float(max(np.abs(learned).max(), np.abs(one_hot).max()))
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
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


def card(family: str, releases: list[tuple[str, api.Release, dict]], repo_id: str | None = None) -> str:
    """The dataset card (``README.md``) text: ``huggingface_hub.DatasetCard`` from :data:`CARD_TEMPLATE`.

    The YAML metadata is :func:`card_data`'s ``DatasetCardData``, written by the library; the
    Markdown body is the template filled with :func:`card_fields`, every text from a provenance
    escaped (:func:`distilled_registry.escape.markdown`).

    Args:
      releases: ``(config, release, {"features": Features, "num_bytes": int, "parquet_size": int, "learned": bool})``.
      repo_id: the Hub repository the usage snippets name (default ``<your-org>/<family>``).
    """
    from huggingface_hub import DatasetCard

    made = DatasetCard.from_template(card_data(family, releases), template_path=str(CARD_TEMPLATE),
                                     **card_fields(family, releases, repo_id or f"<your-org>/{family}"))
    return str(made).rstrip("\n") + "\n"


def _title(family: str, p: Provenance) -> str:
    try:
        fam_desc = catalog.family_description(family)
    except catalog.CatalogError:
        fam_desc = None
    return f"{p.algorithm.name.upper()} {p.source.label}: {fam_desc or family}"


def card_data(family: str, releases: list[tuple[str, api.Release, dict]]):
    """The card's YAML metadata as a ``huggingface_hub.DatasetCardData``: licence, task, size, source,
    tags, and per config its ``data_files`` and ``dataset_info`` (features, split sizes)."""
    from huggingface_hub import DatasetCardData

    md = escape.markdown  # every text from a provenance that reaches the card goes through it
    p = releases[0][1].meta
    algo = p.algorithm.name
    configs = [{"config_name": cfg, "data_files": [{"split": "train", "path": f"{cfg}/train-*.parquet"}],
                **({"default": True} if i == 0 else {})} for i, (cfg, _, _) in enumerate(releases)]
    infos = [{"config_name": cfg, "features": extra["features"]._to_yaml_list(),
              "splits": [{"name": "train", "num_bytes": extra["num_bytes"], "num_examples": len(r.images)}],
              "download_size": extra["parquet_size"], "dataset_size": extra["num_bytes"]}
             for cfg, r, extra in releases]
    return DatasetCardData(
        pretty_name=md(_title(family, p)),
        license=licence_id(p.source.licence or "unknown"),
        task_categories=["image-classification"],
        size_categories=[size_category(max(len(r.images) for _, r, _ in releases))],
        source_datasets=[f"extended|{md(p.source.label)}"],
        tags=TAGS + [algo, {"kip": "kernel-inducing-points", "ls": "label-solve"}.get(algo, algo), "distilled-registry"],
        configs=configs,
        dataset_info=infos,
    )


def card_fields(family: str, releases: list[tuple[str, api.Release, dict]], repo: str) -> dict:
    """The values :data:`CARD_TEMPLATE` fills in: text from a provenance escaped for Markdown, tables as cells."""
    md = escape.markdown
    first = releases[0][1]
    p, src = first.meta, first.meta.source
    h, w, ch = first.images.shape[1:]
    return {
        "title": md(_title(family, p)), "source": md(src.label), "num_classes": md(src.num_classes),
        "algorithm_name": references.ALGORITHMS.get(p.algorithm.name, p.algorithm.name), "shape": f"{h}x{w}x{ch}",
        "zca": ", ZCA-whitened" if p.zca else "",
        "made": ("Imported from the authors' published files by distilled-registry (see each config's "
                 "provenance.json)" if p.origin is not None else "Made with distilled-registry"),
        "papers": [references.KIP_ICLR2021, references.KIP_NEURIPS2021], "homepage": references.HOMEPAGE,
        "metrics": [metrics_cells(family, cfg, r, extra["learned"]) for cfg, r, extra in releases],
        "configs": [cfg for cfg, _, _ in releases],
        "provenance": [(label, [_cell(fn, r.meta) for _, r, _ in releases]) for label, fn in PROVENANCE_ROWS],
        "learned": [cfg for cfg, _, extra in releases if extra["learned"]],
        "repo": repo, "first": releases[0][0], "family": family, "numpy_snippet": NUMPY_SNIPPET,
        "licence": md(src.licence or "unknown"), "homepage_of_source": md(src.homepage) if src.homepage else None,
        "citation": md(src.citation) if src.citation is not None else None,  # a user's own source
        "bibtex": references.BIBTEX.rstrip(),
    }


def metrics_cells(family: str, cfg: str, r: api.Release, learned: bool) -> list[str]:
    """One row of the card's metrics table: config, version, images, labels, KRR accuracy, natural, the
    authors' reported figure, the paper's figure and its reference."""
    m, paper = r.meta.metrics, _paper(family, cfg)
    return [f"`{cfg}`", r.version or "-", str(len(r.images)), "learned" if learned else "one-hot",
            _fmt_acc(m.krr_test_accuracy), _fmt_acc(m.natural_krr_test_accuracy), _fmt_acc(m.reported_test_accuracy),
            _fmt_acc(paper.get("krr_test_accuracy")), paper.get("reference") or paper.get("note") or "-"]


def _cell(fn, p: Provenance) -> str:
    """A provenance table cell: ``fn(p)`` escaped, ``-`` where the release has no such entry (None)."""
    text = fn(p)
    return "-" if text is None else escape.markdown(text)


def _software(run: Run) -> str:
    env = run.environment
    return (f"distilled-registry {env.get('distilled-registry')} (git {str(run.commit)[:12]}), jax {env.get('jax')}, "
            f"neural-tangents {env.get('neural-tangents')}")


def _source_text(s: Source) -> str:
    return f"{s.label} ({'your own' if s.kind else s.origin}; train {s.train_size}, test {s.test_size})"


def _kernel_text(k: Kernel) -> str:
    return f"{k.architecture} depth {k.depth}, {k.get.upper()}, W_std {k.W_std:.4g}, b_std {k.b_std:g}"


# The card's provenance table: (row label, typed provenance -> text, None where the release has none).
PROVENANCE_ROWS = (
    ("made by", lambda p: (f"imported: the authors' published file {p.origin.file}" if p.origin is not None
                           else "a distillation run of distilled-registry")),
    ("source", lambda p: _source_text(p.source)),
    ("source sha256 fingerprint", lambda p: p.source.fingerprint_sha256 and f"{p.source.fingerprint_sha256[:16]}…"),
    ("exact copy of the source", lambda p: "yes" if p.source.exact_copy else "no"),
    ("algorithm", lambda p: p.algorithm.name + (f", {p.algorithm.steps_run} steps"
                                                if p.algorithm.steps_run is not None else "")),
    ("images per class", lambda p: p.config and str(p.config.ipc)),
    ("learned labels", lambda p: "yes" if p.learned_labels else "no"),
    ("kernel", lambda p: _kernel_text(p.kernel)),
    ("KIP learning rate / target batch", lambda p: p.config and f"{p.config.learning_rate} / {p.config.target_batch}"),
    ("ridge (reg)", lambda p: p.config and f"{p.config.reg:g}"),
    ("ZCA", lambda p: "yes" if p.zca else "no"),
    ("seed", lambda p: p.run and str(p.run.seed)),
    ("backend", lambda p: p.run and f"{p.run.backend} x {p.run.workers}"),
    ("wall time", lambda p: p.run and f"{p.run.wall_seconds:.1f} s"),
    ("software", lambda p: p.run and _software(p.run)),
    ("created", lambda p: p.created),
    ("data.npz sha256", lambda p: f"{p.files[rel.DATA_FILE].sha256[:16]}…"),
)


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
            listed = r.meta.files
            transform = rel.transform_path(path, r.meta, missing_ok=True)
            for src, fname in ((rel.member(path, rel.PROVENANCE_FILE, listed), rel.PROVENANCE_FILE),
                               (transform, rel.TRANSFORM_FILE),
                               (rel.member(path, "preview.png", listed) if "preview.png" in listed else None,
                                "preview.png")):
                if src is not None:  # read bounded, and matching its recorded sha256 (rule B)
                    (d / fname).write_bytes(rel.read_member(path, src.name, r.meta))
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
    doc = croissant.jsonld(r.meta, digests, r.images.shape[1:], r.labels.shape[1], records_file=PARQUET_NAME)
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
