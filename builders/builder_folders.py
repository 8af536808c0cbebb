"""Each family's TFDS dataset folder, written from the catalog: ``builders/<family>/``.

    <family>/
      <family>_dataset_builder.py        the builder module: ``Builder``, the generated class
      <family>_dataset_builder_test.py   the builder test on small dummy data
      README.md                          the description TFDS shows (configs, features, where data come from)
      CITATIONS.bib                      both papers
      TAGS.txt                           TFDS tags
      checksums.tsv                      url, size, sha256 of published release files (TFDS format)

``distilled-registry builders`` writes them (``--check`` lists those that differ from what the
catalog gives, and fails); the files are committed. ``checksums.tsv`` lists, for each catalog
record whose ``location`` is an http(s) URL and which gives file sizes (``provenance_size``,
``data_size`` beside ``provenance_sha256`` and ``data_sha256``), the URLs of its
``provenance.json`` and ``data.npz``; TFDS's download manager checks downloads of those URLs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from distilled_registry import catalog

from . import papers

BUILDERS_DIR = Path(__file__).resolve().parent
GENERATED = "generated from the catalog by `distilled-registry builders`; do not edit"

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
    fam = catalog.load()["families"][family]
    src = e0.source_info
    h, w, c = src["image_shape"]
    lines = [
        f"{fam.get('description') or family}: {papers.ALGORITHMS.get(e0.algorithm, e0.algorithm)} applied to "
        f"`{e0.source}` ({src['num_classes']} classes, {h}x{w}x{c} images), made and checked by "
        "distilled-registry. Each example is one distilled image in the release's preprocessed space "
        "(float32, not uint8) with its label vector (centred one-hot, or learned).",
        "",
        "Features: `image` (float32, " f"{h}x{w}x{c}" "), `label` (ClassLabel: argmax of the label vector), "
        f"`label_vector` (float32, {src['num_classes']}), `class_id` (ClassLabel: the class the image was "
        "initialised from), `index` (row in the release's data.npz). `info.metadata['provenance']` holds the "
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
    """``checksums.tsv``: ``url<TAB>size<TAB>sha256<TAB>filename`` for published files with known sizes."""
    out = [f"# {GENERATED}",
           "# url, size, sha256 and file name of published release files (catalog records with an http(s)",
           "# location and file sizes); other downloads are checked against provenance.json and the catalog."]
    for e in catalog.family_entries(family):
        for version, rec in sorted(e.releases.items()):
            loc = rec.get("location", "")
            if not (isinstance(loc, str) and loc.startswith(("http://", "https://"))):
                continue
            base = loc if loc.endswith("/") else loc + "/"
            for fname, sha_key, size_key in (("provenance.json", "provenance_sha256", "provenance_size"),
                                             ("data.npz", "data_sha256", "data_size")):
                if rec.get(sha_key) and isinstance(rec.get(size_key), int):
                    out.append(f"{base}{fname}\t{rec[size_key]}\t{rec[sha_key]}\t{fname}")
    return "\n".join(out) + "\n"


def builder_module(family: str) -> str:
    return f'''"""TFDS builder module of the release family {family} ({GENERATED}).

The class is generated from the catalog by ``distilled_registry.builders.release_builder`` and
registered with TFDS as ``{family}``; this module names it ``Builder``, the TFDS convention.

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("{family}/CONFIG", split="train")
"""

from distilled_registry.builders import builder_class

Builder = builder_class("{family}")
'''


def builder_test(family: str) -> str:
    return f'''"""Builder test of {family} on small dummy data ({GENERATED}).

Every catalog config is declared; the first is built from a dummy release in a temporary store and
read back with ``tfds.data_source``, which must return exactly the release's arrays.
"""

from distilled_registry.builders import builder_testing


def test_{family}_builder_on_dummy_data(tmp_path):
    builder_testing.check_family("{family}", tmp_path)
'''


def family_files(family: str) -> dict[str, str]:
    """File name -> text of the family's folder."""
    return {
        f"{family}_dataset_builder.py": builder_module(family),
        f"{family}_dataset_builder_test.py": builder_test(family),
        "README.md": readme(family),
        "CITATIONS.bib": papers.BIBTEX,
        "TAGS.txt": TAGS,
        "checksums.tsv": checksums(family),
    }


def expected(root: str | os.PathLike | None = None) -> dict[Path, str]:
    """Every generated file (path -> text) for every catalog family."""
    root = Path(root) if root is not None else BUILDERS_DIR
    families = list(dict.fromkeys(e.family for e in catalog.entries()))
    return {root / fam / name: text for fam in families for name, text in family_files(fam).items()}


def stale(root: str | os.PathLike | None = None) -> list[Path]:
    """Generated files that are missing or differ from what the catalog gives."""
    return [p for p, text in expected(root).items() if not p.is_file() or p.read_text() != text]


def write(root: str | os.PathLike | None = None) -> list[Path]:
    """Write every family folder's files (atomically, each one); returns those that changed."""
    changed = []
    for p, text in expected(root).items():
        if p.is_file() and p.read_text() == text:
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        changed.append(p)
    return changed
