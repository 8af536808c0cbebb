"""Each family's TFDS dataset folder, written from the catalog: ``builders/<family>/``.

    <family>/
      <family>_dataset_builder.py        the builder module: ``class Builder(ReleaseBuilder)``
      <family>_dataset_builder_test.py   TFDS's ``DatasetBuilderTestCase`` on dummy_data/
      dummy_data/                        a small store holding a dummy release of the first config
      README.md                          the description TFDS shows (configs, features, where data come from)
      CITATIONS.bib                      both papers
      TAGS.txt                           TFDS tags
      checksums.tsv                      url, size, sha256 of pinned published files (TFDS format)

``distilled-registry builders`` writes them (``--check`` lists those that differ from what the
catalog gives, and fails); the files are committed. Where: ``--out DIR``, else this package's own
``builders/`` only when it is a source checkout's (:func:`default_root`); an installed package
(site-packages) is never written into. :func:`checksums` says what ``checksums.tsv`` lists.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from distilled_registry import atomic, catalog, output_folder, references, records
from distilled_registry.errors import UsageError

from . import builder_testing

BUILDERS_DIR = Path(__file__).resolve().parent
GENERATED = "generated from the catalog by `distilled-registry builders`; do not edit"
DUMMY_DIR = "dummy_data"
MARKER = "builders"  # output_folder's marker in each family folder: .distilled-registry-builders


def dummy_images(family: str) -> int:
    """Images in the family's dummy release: its first config's ``ipc x classes``, what that release is
    (a store release must be what its config says, conformance.check); 10 for most families, 100 for CIFAR-100."""
    e = catalog.family_entries(family)[0]
    return int(e.spec["ipc"]) * int(e.source_info["num_classes"])

TAGS = """\
content.data-type.image # Contains image data.
ml.task.image-classification # Relates to Image Classification, a machine learning task.
"""


def _pct(x) -> str:
    return "not reported" if x is None else f"{100 * float(x):.2f}%"


def readme(family: str) -> str:
    """``README.md``: the family's description as TFDS shows it."""
    entries = catalog.family_entries(family)
    e0 = entries[0]
    src = e0.source_info
    h, w, c = src["image_shape"]
    lines = [
        f"{catalog.family_description(family)}: {references.ALGORITHMS.get(e0.algorithm, e0.algorithm)} applied to "
        f"`{e0.source}` ({src['num_classes']} classes, {h}x{w}x{c} images), made and checked by "
        "distilled-registry. Each example is one distilled image in the release's preprocessed space "
        "(float32, not uint8) with its label vector (centred one-hot, or learned).",
        "",
        "Features: `image` (float32, " f"{h}x{w}x{c}" "), `label` (ClassLabel: the class the image was distilled "
        "for, `class_id`; what `as_supervised=True` gives), "
        f"`label_vector` (float32, {src['num_classes']}: the target kernel ridge regression fits, centred one-hot or "
        "learned; its argmax is not always the class), `class_id` (ClassLabel: the class the image was "
        "initialised from), `index` (row in the release's data.npz). The licence is the source dataset's "
        f"({src.get('licence') or 'unknown'}), in `info.redistribution_info`. `info.metadata['provenance']` holds the "
        "release's provenance.json (source fingerprint, kernel, hyper-parameters, seed, metrics, sha256 of "
        "every file).",
        "",
        "Data come from the local distilled-registry store when the release is there, else from the "
        "release's URL (sha256 checked); `distilled-registry regenerate "
        f"{family}/CONFIG` makes a release locally. Map raw test images into the release's space with "
        f"`distilled_registry.load('{family}/CONFIG').transform().apply(x)`.",
        "",
        "| config | version | what | paper's KRR test accuracy |",
        "|---|---|---|---|",
    ]
    for e in entries:
        lines.append(f"| `{e.config}` | {e.version} | {e.description} | {_pct(e.paper.get('krr_test_accuracy'))} |")
    lines += ["", f"<!-- {GENERATED} -->", ""]
    return "\n".join(lines)


def checksums(family: str) -> str:
    """``checksums.tsv`` in TFDS's format (``url<TAB>size<TAB>sha256<TAB>filename``): every published file
    of the family whose sha256 and size are known.

    Those are the authors' bucket files pinned in the catalog (a config's ``published`` block with
    ``sha256`` and ``size``, recorded by ``import-published NAME --record``, and the catalog's
    ``published.pins`` of bucket paths) and this registry's own releases recorded at an http(s)
    ``location`` with file sizes (their ``provenance.json`` and ``data.npz``).
    """
    from distilled_registry import published

    rows: dict[str, tuple[int, str]] = {}
    pins = records.pins()
    for e in catalog.family_entries(family):
        p = e.published or {}
        if p.get("url") and p.get("sha256") and isinstance(p.get("size"), int):
            rows[p["url"]] = (p["size"], p["sha256"])
        pin = pins.get(p.get("path") or "")
        if p.get("url") and isinstance(pin, dict) and pin.get("sha256") and isinstance(pin.get("size"), int):
            rows[p["url"]] = (pin["size"], pin["sha256"])
        for version, rec in sorted(e.releases.items()):
            loc = rec.get("location", "")
            if not (isinstance(loc, str) and loc.startswith(("http://", "https://"))):
                continue
            base = loc if loc.endswith("/") else loc + "/"
            for fname, sha_key, size_key in (("provenance.json", "provenance_sha256", "provenance_size"),
                                             ("data.npz", "data_sha256", "data_size")):
                if rec.get(sha_key) and isinstance(rec.get(size_key), int):
                    rows[base + fname] = (rec[size_key], rec[sha_key])
    out = [f"# {GENERATED}",
           "# TFDS format: url, size, sha256, file name of each published file whose sha256 is known (pinned in the",
           f"# catalog); other downloads are checked against their pins ({published.PINS_FILE}) and provenance.json."]
    out += [f"{url}\t{size}\t{sha}\t{url.rstrip('/').rsplit('/', 1)[-1]}" for url, (size, sha) in sorted(rows.items())]
    return "\n".join(out) + "\n"


def _camel(family: str) -> str:
    return "".join(part.capitalize() for part in family.split("_"))


def builder_module(family: str) -> str:
    """``<family>_dataset_builder.py``: the module TFDS's folder loading finds, defining ``Builder``."""
    return f'''"""TFDS dataset builder of the release family {family} ({GENERATED}).

Configs, versions, features and where data come from are the catalog's (see
``distilled_registry.builders.release_builder.ReleaseBuilder``):

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("{family}/CONFIG", split="train")

or, as a TFDS dataset folder (TFDS's ``tfds build``, which itself needs apache_beam):
``python -m distilled_registry.cli.tfds_build builders/{family} --config CONFIG``.
"""

from distilled_registry.builders import release_builder


class Builder(release_builder.ReleaseBuilder):
    """DatasetBuilder of {family}: one example per distilled image of a release."""

    FAMILY = "{family}"
'''


def builder_test(family: str) -> str:
    """``<family>_dataset_builder_test.py``: TFDS's ``DatasetBuilderTestCase`` on ``dummy_data/``."""
    e = catalog.family_entries(family)[0]
    return f'''"""TFDS's builder test of {family} on its dummy_data/ ({GENERATED}).

``dummy_data/`` is a small release store holding a dummy {e.name} release (random arrays, a
schema-valid provenance); the builder reads it as it reads the user's store, and TFDS's
``DatasetBuilderTestCase`` prepares it, reads it back with ``as_dataset`` and counts the examples.
"""

from distilled_registry.builders import dataset_testing
from distilled_registry.builders.{family} import {family}_dataset_builder


class {_camel(family)}Test(dataset_testing.ReleaseBuilderTestCase):
    DATASET_CLASS = {family}_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["{e.config}"]
    SPLITS = {{"train": {dummy_images(family)}}}
'''


def dummy_files(family: str) -> dict[str, bytes]:
    """``dummy_data/``: a store holding a dummy release of the family's first config, ``path -> bytes``.

    :func:`dummy_images` random images of the source's shape with a schema-valid provenance
    (:func:`builder_testing.write_dummy_release`); the same bytes on every run.
    """
    e = catalog.family_entries(family)[0]
    with tempfile.TemporaryDirectory(prefix="distilled-registry-dummy-") as tmp:
        home = Path(tmp) / "store"
        path, _ = builder_testing.write_dummy_release(e.name, home, images=dummy_images(family))
        where = Path(DUMMY_DIR) / path.relative_to(home)
        return {str(where / f.name): f.read_bytes() for f in sorted(path.iterdir())}


def family_files(family: str) -> dict[str, str | bytes]:
    """Path in the family's folder -> text (or bytes, for ``dummy_data/``); the last is the folder's marker
    (``.distilled-registry-builders``, rule A: :mod:`distilled_registry.output_folder`) listing the others."""
    files = {
        f"{family}_dataset_builder.py": builder_module(family),
        f"{family}_dataset_builder_test.py": builder_test(family),
        "README.md": readme(family),
        "CITATIONS.bib": references.BIBTEX,
        "TAGS.txt": TAGS,
        "checksums.tsv": checksums(family),
        **dummy_files(family),
    }
    files[output_folder.marker_name(MARKER)] = output_folder.marker_text(output_folder.marker_body(MARKER, files))
    return files


def is_checkout(folder: Path | None = None) -> bool:
    """Whether ``folder`` (default: this package's ``builders/``) is a source checkout's (beside
    ``pyproject.toml`` and ``distilled_registry/``, not inside an installed package's ``site-packages``)."""
    folder = Path(folder) if folder is not None else BUILDERS_DIR
    root = folder.parent
    installed = any(part in ("site-packages", "dist-packages") for part in folder.parts)
    return not installed and (root / "pyproject.toml").is_file() and (root / "distilled_registry").is_dir()


def default_root(out: str | os.PathLike | None = None) -> Path:
    """Where ``distilled-registry builders`` writes: ``out``, else this checkout's ``builders/``.

    Raises:
      UsageError: no ``out`` and the package is installed (its folder would be site-packages).
    """
    if out is not None:
        return Path(out)
    if not is_checkout():
        raise UsageError(f"the builder folders of this package are in an installed package ({BUILDERS_DIR}), not a "
                         "source checkout; write them elsewhere with `distilled-registry builders --out DIR`")
    return BUILDERS_DIR


def expected(root: str | os.PathLike | None = None) -> dict[Path, str | bytes]:
    """Every generated file (path -> text) for every catalog family."""
    root = Path(root) if root is not None else BUILDERS_DIR
    families = list(dict.fromkeys(e.family for e in catalog.entries()))
    return {root / fam / name: text for fam in families for name, text in family_files(fam).items()}


def stale(root: str | os.PathLike | None = None, files: dict[Path, str | bytes] | None = None) -> list[Path]:
    """Generated files that are missing or differ from what the catalog gives (``files``: :func:`expected`'s
    result for ``root`` when the caller has it already; it is made again otherwise)."""
    files = expected(root) if files is None else files
    return [p for p, want in files.items() if _read(p, want) != want]


def _read(p: Path, like: str | bytes) -> str | bytes | None:
    if not p.is_file() or p.is_symlink():
        return None
    return p.read_bytes() if isinstance(like, bytes) else p.read_text()


def write(root: str | os.PathLike | None = None) -> list[Path]:
    """Write every family folder's files (atomically, each one); returns those that changed.

    Each family folder must be new or carry this command's marker, and every file to write must be absent
    or one it wrote (rule A, :func:`output_folder.claim`, checked for every folder before anything is written).
    """
    want_all = expected(root)
    folders: dict[Path, list[str]] = {}
    for p in want_all:
        fam = p.relative_to(Path(root) if root is not None else BUILDERS_DIR).parts[0]
        base = (Path(root) if root is not None else BUILDERS_DIR) / fam
        folders.setdefault(base, []).append(p.relative_to(base).as_posix())
    for base, files in folders.items():
        output_folder.claim(base, MARKER, replace=True, flag=None, option="builders folder", writes=files)
    changed = []
    for p, want in want_all.items():
        if _read(p, want) == want:
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(p, want if isinstance(want, bytes) else want.encode())
        changed.append(p)
    return changed
