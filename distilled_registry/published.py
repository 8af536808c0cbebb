"""The authors' published KIP and LS datasets: names, URLs, pinned checksums, and import into the store.

Nguyen et al. published their distilled sets in the public bucket ``kip-datasets``
(``https://storage.googleapis.com/kip-datasets/``): 12,736 KIP files indexed by ``kip/kip.csv`` and
30 LS files indexed by ``ls/ls.csv``. Each is an ``.npz`` with ``images`` (NHWC float32, in the
authors' preprocessed space) and ``labels`` (float32, N x C). File names::

    kip/{dataset}/{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}_{l|nol}_{aug|noaug}_ckpt{K}.npz
    ls/{dataset}/{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}.npz

How the registry names them (:class:`Variant`):

- the catalog's default configs (``kip_cifar10/ipc10``, ...) carry a ``published`` block pointing at
  the paper's headline variant: ConvNet, ZCA for the RGB sources (none for MNIST and Fashion-MNIST),
  learned labels, no augmentation, the *final* checkpoint (the largest ``ckpt`` the authors' index
  lists for that run: read from ``kip/kip.csv`` on first download, then pinned); the LS configs
  (``ls_cifar10/ipc10-convnet3-nozca``, ...) point at the 30 LS files, with the index's test accuracy;
- every other KIP file is reachable by an explicit config name,
  ``ipc{I}-{convnet|convnet3}-{zca|nozca}-{l|nol}-{aug|noaug}-{ckpt{K}|final}`` (``I`` = N / classes),
  e.g. ``kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000``; :func:`parse_config` and
  :meth:`Variant.config_name` map one to the other, so 12,736 files need no 12,736 catalog rows;
- a copy whose name does not record augmentation and checkpoint (``cifar10_ConvNet_ssize100_zca_l``)
  gets the short form ``ipc10-convnet-zca-l``; it has no bucket URL.

Checksums. The bucket publishes none, so the sha256 of a published file cannot be known in advance:
it is recorded on the first verified download (the file parses, its arrays have the published
shapes, and its values are finite) in ``<store>/published_pins.json`` and pinned from then on: a
later download with another sha256 is refused, whichever server it came from. Only an http(s)
download records a pin: a local path or a ``file://`` URL is a local copy, checked against a pin
but never pinning one. Every read-modify-write of the pins file holds ``<store>/.published_pins.lock``.
Downloads go through :func:`distilled_registry.download.fetch` (size cap, overall deadline); the
authors' index is parsed before it is kept, and kept per URL (:func:`index_cache`). A sha256 recorded in
the catalog (``published.sha256``; maintainers: ``import-published NAME --record``) pins it for
everyone. Pins are keyed by the bucket path (``kip/cifar10/...npz``), not the URL, so a mirror
(``$DISTILLED_REGISTRY_PUBLISHED_URL``) is held to the same pins.

An imported release is an ordinary store release (``data.npz`` holding the published arrays bit for
bit, ``transform.npz`` when the source's training split was at hand, preview, parquet, Croissant,
``provenance.json``), stored as ``<family>/<config>/0.1.0`` (:data:`VERSION`): published imports sort
before the ``1.0.0`` a local ``regenerate`` writes, so a regenerated release takes precedence in
``load(NAME)`` and the import stays reachable as ``NAME:0.1.0``. Its provenance has an ``origin``
block (URL, file name, sha256 of the original file(s), the variant, the pin) instead of a run's
config and timing, and ``metrics.reported_by_authors`` holds the index's figures, apart from
anything measured here.

numpy only (no JAX): fitting the transform needs the source data and lives in the CLI
(``distilled-registry import-published --source-dir``), which passes it in.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from . import atomic
from . import download as dl

from .errors import UsageError, UserError

BUCKET_URL = "https://storage.googleapis.com/kip-datasets/"
URL_ENV = "DISTILLED_REGISTRY_PUBLISHED_URL"
VERSION = "0.1.0"
CARD_NOTE = (
    "Published by the authors (Nguyen, Novak, Xiao, Lee) in the bucket kip-datasets "
    "(https://storage.googleapis.com/kip-datasets/). The bucket publishes no checksums, so the sha256 of "
    "each file cannot be known in advance: it is recorded on the first verified download (the file parses "
    "and has the published shapes) and pinned from then on; a later copy with another sha256 is refused. "
    "The images live in the authors' preprocessed space (per-channel standardisation of the training split, "
    "then ZCA with strength 0.1 where the name says zca); an imported release's transform.npz, when present, "
    "was refitted on the training split of the copy named in its provenance.")
PINS_FILE = "published_pins.json"
PINS_FORMAT = "distilled_registry.published_pins/1"
INDEX = {"kip": "kip/kip.csv", "ls": "ls/ls.csv"}
# the columns read from each index: a body without them (an HTML page, an error page) is not the index
INDEX_COLUMNS = {"kip": ("architecture", "dataset", "ssize", "zca", "l", "aug", "ckpt", "test_acc"),
                 "ls": ("architecture", "dataset", "ssize", "zca", "test_acc")}
MAX_BYTES = 64 << 20  # the largest published file is ~12 MB (cifar100, 1000 images); refuse anything absurd
INDEX_MAX_BYTES = 16 << 20  # kip/kip.csv (12,736 rows) is a few MB
DEADLINE_S = 600.0  # a whole download (distilled_registry.download.fetch); read at call time
TIMEOUT_S = 60.0  # one read without data
PINS_LOCK = ".published_pins.lock"

AUTHORS = "Timothy Nguyen, Roman Novak, Lechao Xiao, Jaehoon Lee"
PAPERS = {"kip": "Nguyen, Chen, Lee. Dataset Meta-Learning from Kernel Ridge Regression. ICLR 2021; "
                 "Nguyen, Novak, Xiao, Lee. Dataset Distillation with Infinitely Wide Convolutional Networks. NeurIPS 2021",
          "ls": "Nguyen, Novak, Xiao, Lee. Dataset Distillation with Infinitely Wide Convolutional Networks. NeurIPS 2021"}

# dataset: (num_classes, image shape, KIP support sizes, LS support sizes)
DATASETS = {
    "mnist": (10, (28, 28, 1), (10, 100, 500), (10, 100, 500)),
    "fashion_mnist": (10, (28, 28, 1), (10, 100, 500), (10, 100, 500)),
    "svhn_cropped": (10, (32, 32, 3), (10, 100, 500), (10, 100, 500)),
    "cifar10": (10, (32, 32, 3), (10, 100, 500), (10, 100, 500)),
    "cifar100": (100, (32, 32, 3), (100, 1000), (100, 500, 1000)),
}
HEADLINE_ZCA = {"mnist": False, "fashion_mnist": False, "svhn_cropped": True, "cifar10": True, "cifar100": True}
CHECKPOINTS = (0, 1, 2, 4, 6, 8, 12, 18, 26, 37, 54, 78, 112, 162, 233, 335, 483, 695, 1000) + tuple(range(1500, 50001, 500))
ARCH_FILE = {"convnet": "ConvNet", "convnet3": "ConvNet3"}
ZCA_REG = 0.1
PREPROCESSING_RECIPE = (
    "per-channel standardisation with the mean and standard deviation of the source's training split; "
    "with zca: each flattened image has its mean removed and is scaled to unit norm, cov = X^T X / N over the "
    "training split, lambda = 0.1 * trace(cov) / d, W = U diag((s + lambda)^-1/2) U^T, image -> normalize(image) @ W "
    "(distilled_registry.transform.Transform; pipelines.preprocess.fit_transform(x_train, zca, 0.1))")

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "svhn_cropped": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "cifar100": (
        "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can "
        "castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin "
        "elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard "
        "lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear "
        "pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal "
        "shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank "
        "telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm").split(),
}
SOURCE_INFO = {  # licence, homepage (as pipelines.sources records them)
    "mnist": ("CC-BY-SA-3.0", "http://yann.lecun.com/exdb/mnist/"),
    "fashion_mnist": ("MIT", "https://github.com/zalandoresearch/fashion-mnist"),
    "cifar10": ("unknown", "https://www.cs.toronto.edu/~kriz/cifar.html"),
    "cifar100": ("unknown", "https://www.cs.toronto.edu/~kriz/cifar.html"),
    "svhn_cropped": ("unknown", "http://ufldl.stanford.edu/housenumbers/"),
}
SPLIT_SIZES = {"mnist": (60000, 10000), "fashion_mnist": (60000, 10000), "svhn_cropped": (73257, 26032),
               "cifar10": (50000, 10000), "cifar100": (50000, 10000)}


class PublishedError(UserError):
    """A published file or name that cannot be used: says which and why; nothing was written."""


class PublishedUsageError(PublishedError, UsageError):
    """A published-file name, ``--name``, ``--dataset`` or path the command line got wrong (exit 2)."""


class PinError(PublishedError):
    """A published file whose sha256 differs from the one pinned for it: refused."""


# ------------------------------------------------------------------------------------------- names


@dataclasses.dataclass(frozen=True)
class Variant:
    """One published file, as its name describes it.

    Attributes:
      algorithm: ``kip`` or ``ls``.
      dataset: ``mnist``, ``fashion_mnist``, ``svhn_cropped``, ``cifar10`` or ``cifar100``.
      architecture: ``convnet`` (prepended conv) or ``convnet3``.
      ssize: support size N (all classes together).
      zca: ZCA-whitened space or not.
      learned_labels: KIP: labels learned (``_l``) or not (``_nol``); LS: None (labels solved).
      augmentation: KIP: trained with augmentation or not; None when not recorded (or LS).
      checkpoint: KIP: the step ``K`` of ``ckpt{K}``, ``"final"`` (the largest the index lists for the
        run), or None when not recorded; LS: None.
    """

    algorithm: str
    dataset: str
    architecture: str
    ssize: int
    zca: bool
    learned_labels: bool | None = None
    augmentation: bool | None = None
    checkpoint: int | str | None = None

    def __post_init__(self):
        if self.algorithm not in ("kip", "ls"):
            raise PublishedUsageError(f"published files are KIP or LS, not {self.algorithm!r}")
        if self.dataset not in DATASETS:
            raise PublishedUsageError(f"no published sets of {self.dataset!r}; the authors published {', '.join(DATASETS)}")
        if self.architecture not in ARCH_FILE:
            raise PublishedUsageError(f"published sets use ConvNet or ConvNet3 kernels, not {self.architecture!r}")
        sizes = DATASETS[self.dataset][2 if self.algorithm == "kip" else 3]
        if self.ssize not in sizes:
            raise PublishedUsageError(f"the authors published {self.algorithm.upper()} {self.dataset} sets of "
                                 f"{', '.join(map(str, sizes))} images, not {self.ssize}")
        if self.algorithm == "kip":
            if self.learned_labels is None:
                raise PublishedUsageError("a KIP file name records learned (_l) or fixed (_nol) labels")
            if (self.augmentation is None) != (self.checkpoint is None):
                raise PublishedUsageError("a KIP name records augmentation and checkpoint together, or neither")
            if isinstance(self.checkpoint, int) and self.checkpoint not in CHECKPOINTS:
                raise PublishedUsageError(f"checkpoint {self.checkpoint} is not one the authors saved: 0, 1, 2, 4, 6, 8, 12, "
                                     "18, 26, 37, 54, 78, 112, 162, 233, 335, 483, 695, 1000, then every 500 up to 50000")
            if isinstance(self.checkpoint, str) and self.checkpoint != "final":
                raise PublishedUsageError(f"checkpoint {self.checkpoint!r}: give ckpt<K> or final")
        elif (self.learned_labels, self.augmentation, self.checkpoint) != (None, None, None):
            raise PublishedUsageError("LS files record no labels, augmentation or checkpoint (their labels are solved)")

    @property
    def num_classes(self) -> int:
        return DATASETS[self.dataset][0]

    @property
    def ipc(self) -> int:
        return self.ssize // self.num_classes

    @property
    def family(self) -> str:
        return f"{self.algorithm}_{self.dataset}"

    @property
    def complete(self) -> bool:
        """Whether the name pins down one file of the bucket (with ``final`` still to resolve)."""
        return self.algorithm == "ls" or self.checkpoint is not None

    def stem(self, checkpoint: int | str | None = None) -> str:
        """The file name without ``.npz``; KIP ``final`` gives ``...ckpt{final}`` unless ``checkpoint`` is given."""
        s = f"{ARCH_FILE[self.architecture]}_ssize{self.ssize}_{'zca' if self.zca else 'nozca'}"
        if self.algorithm == "ls":
            return s
        s += "_l" if self.learned_labels else "_nol"
        if self.augmentation is None:
            return s
        k = self.checkpoint if checkpoint is None else checkpoint
        return s + ("_aug" if self.augmentation else "_noaug") + f"_ckpt{k if isinstance(k, int) else '{final}'}"

    def bucket_path(self, checkpoint: int | None = None) -> str:
        """``kip/cifar10/ConvNet_ssize100_zca_l_noaug_ckpt1000.npz`` (``checkpoint`` resolves ``final``).

        Raises PublishedError for a name that does not record augmentation and checkpoint.
        """
        if not self.complete:
            raise PublishedUsageError(f"{self.stem()} does not record augmentation and checkpoint, so it names no file "
                                 "of the bucket; give the full name, e.g. "
                                 f"{self.config_name()}-noaug-final")
        if checkpoint is not None and checkpoint not in CHECKPOINTS:
            raise PublishedUsageError(f"checkpoint {checkpoint} is not one the authors saved")
        return f"{self.algorithm}/{self.dataset}/{self.stem(checkpoint)}.npz"

    def resolved(self, checkpoint: int) -> "Variant":
        return dataclasses.replace(self, checkpoint=checkpoint)

    def config_name(self) -> str:
        """The explicit config name: ``ipc10-convnet3-nozca-nol-aug-ckpt1000`` (KIP), ``ipc10-convnet-zca`` (LS)."""
        s = f"ipc{self.ipc}-{self.architecture}-{'zca' if self.zca else 'nozca'}"
        if self.algorithm == "ls":
            return s
        s += "-l" if self.learned_labels else "-nol"
        if self.augmentation is None:
            return s
        return s + ("-aug" if self.augmentation else "-noaug") + (
            f"-ckpt{self.checkpoint}" if isinstance(self.checkpoint, int) else "-final")

    def describe(self) -> dict:
        return {"algorithm": self.algorithm, "dataset": self.dataset, "architecture": ARCH_FILE[self.architecture],
                "ssize": self.ssize, "ipc": self.ipc, "zca": self.zca,
                "labels": "solved" if self.algorithm == "ls" else ("learned" if self.learned_labels else "fixed (one-hot)"),
                "augmentation": self.augmentation, "checkpoint": self.checkpoint}

    def kernel(self) -> dict:
        """The kernel the authors distilled with (DESIGN.md): ConvNet(3), depth 3, NTK, W_std sqrt(2), b_std 0.1."""
        return {"architecture": self.architecture, "depth": 3, "W_std": 2 ** 0.5, "b_std": 0.1, "get": "ntk", "impl": "nt"}


def headline(family: str, ipc: int) -> Variant:
    """The paper's headline variant of a default KIP config (``final`` checkpoint) or the LS default."""
    alg, _, dataset = family.partition("_")
    if alg == "kip":
        return Variant("kip", dataset, "convnet", ipc * DATASETS.get(dataset, (1,))[0], HEADLINE_ZCA.get(dataset, True),
                       learned_labels=True, augmentation=False, checkpoint="final")
    return Variant("ls", dataset, "convnet", ipc * DATASETS.get(dataset, (1,))[0], HEADLINE_ZCA.get(dataset, True))


_CONFIG_RE = re.compile(r"ipc(?P<ipc>\d+)-(?P<arch>convnet3?)-(?P<zca>zca|nozca)(?:-(?P<l>l|nol)"
                        r"(?:-(?P<aug>aug|noaug)-(?P<ckpt>ckpt\d+|final))?)?\Z")
_STEM_RE = re.compile(r"(?:(?P<dataset>[a-z0-9_]+?)_)?(?P<arch>ConvNet3?)_ssize(?P<n>\d+)_(?P<zca>zca|nozca)"
                      r"(?:_(?P<l>l|nol)(?:_(?P<aug>aug|noaug)_ckpt(?P<ckpt>\d+|\{final\}))?)?\Z")


def parse_config(family: str, config: str) -> Variant | None:
    """The published variant an explicit config name denotes, or None when it is not of that form.

    ``parse_config("kip_cifar10", "ipc10-convnet3-nozca-nol-aug-ckpt1000")`` is the file
    ``kip/cifar10/ConvNet3_ssize100_nozca_nol_aug_ckpt1000.npz``. KIP names need the labels part; LS
    names must not have it. A name of the form with impossible values (a size or checkpoint the
    authors never published) raises PublishedError saying so.
    """
    alg, _, dataset = family.partition("_")
    m = _CONFIG_RE.match(config)
    if not m or alg not in ("kip", "ls") or dataset not in DATASETS:
        return None
    if (alg == "kip") != (m["l"] is not None):
        return None
    ckpt = m["ckpt"]
    return Variant(alg, dataset, m["arch"], int(m["ipc"]) * DATASETS[dataset][0], m["zca"] == "zca",
                   learned_labels=None if m["l"] is None else m["l"] == "l",
                   augmentation=None if m["aug"] is None else m["aug"] == "aug",
                   checkpoint=None if ckpt is None else ("final" if ckpt == "final" else int(ckpt[4:])))


def parse_file_name(text: str, dataset: str | None = None, algorithm: str | None = None) -> Variant:
    """The variant a published file's name or URL describes.

    Accepts a bucket path or URL (``.../kip/cifar10/ConvNet_ssize100_zca_l_noaug_ckpt1000.npz``), a bare
    file name with ``dataset`` given, or a name with the dataset as prefix
    (``cifar10_ConvNet_ssize100_zca_l``, the folder of a re-hosted copy). ``algorithm`` is taken from a
    ``kip/`` or ``ls/`` folder in the path, else from the name (a labels part means KIP).
    """
    path = urllib.parse.urlparse(text).path if re.match(r"[a-z]+://", text) else str(text)
    parts = [p for p in re.split(r"[/\\]", path) if p]
    if not parts:
        raise PublishedUsageError(f"{text!r} is not a published file name")
    name = parts[-1]
    stem = name[:-4] if name.endswith(".npz") else name
    m = _STEM_RE.match(stem)
    if not m:
        raise PublishedUsageError(f"{name!r} does not follow the authors' naming scheme "
                             "({ConvNet|ConvNet3}_ssize{N}_{zca|nozca}[_{l|nol}_{aug|noaug}_ckpt{K}].npz for KIP, "
                             "{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}.npz for LS); give --name FAMILY/CONFIG")
    folder_alg = folder_ds = None
    if len(parts) >= 3 and parts[-3] in ("kip", "ls") and parts[-2] in DATASETS:
        folder_alg, folder_ds = parts[-3], parts[-2]
    elif len(parts) >= 2 and parts[-2] in DATASETS:
        folder_ds = parts[-2]
    found = [d for d in (dataset, folder_ds, m["dataset"]) if d]
    if not found:
        raise PublishedUsageError(f"{name!r} does not say which dataset it was distilled from; give --dataset "
                             f"({', '.join(DATASETS)}) or --name")
    if len(set(found)) > 1:
        raise PublishedUsageError(f"{text!r}: conflicting datasets {sorted(set(found))}")
    alg_name = "kip" if m["l"] else "ls"
    algs = {a for a in (algorithm, folder_alg) if a} | {alg_name}
    if len(algs) > 1:
        raise PublishedUsageError(f"{text!r}: the name is of a{'' if alg_name == 'ls' else ' KIP'} "
                             f"{'LS' if alg_name == 'ls' else ''} file but {sorted(algs - {alg_name})} was given")
    ckpt = m["ckpt"]
    return Variant(alg_name, found[0], m["arch"].lower(), int(m["n"]), m["zca"] == "zca",
                   learned_labels=None if m["l"] is None else m["l"] == "l",
                   augmentation=None if m["aug"] is None else m["aug"] == "aug",
                   checkpoint=None if ckpt is None else ("final" if ckpt == "{final}" else int(ckpt)))


# ----------------------------------------------------------------------------------------- catalog


def block(variant: Variant, reported: dict | None = None) -> dict:
    """The catalog's ``published`` block of ``variant`` (what ``catalog.json`` holds per config)."""
    d = {"version": VERSION, "variant": variant.describe(), "kind": "authors' published file"}
    if not variant.complete:
        d.update(path=None, url=None, note="augmentation and checkpoint are not recorded for this copy, so it has no "
                                           "bucket URL; import a local copy with `distilled-registry import-published`")
    elif variant.checkpoint == "final":
        d.update(path=None, url=None, url_template=BUCKET_URL + variant.bucket_path().replace("{final}", "{ckpt}"),
                 checkpoint_rule="final: the largest ckpt the authors' index kip/kip.csv lists for this run, read from "
                                 "the index on first download and pinned with the file")
    else:
        d.update(path=variant.bucket_path(), url=BUCKET_URL + variant.bucket_path())
    d.update(sha256=None, size=None,
             pin="not known in advance: recorded on the first verified download and pinned from then on "
                 "(a file with another sha256 is refused)")
    d["reported"] = reported
    if reported is None:
        d["reported_note"] = ("the authors' index gives test_acc per file; kip/kip.csv is read on download (figures "
                              "recorded in the release's provenance), not stored here")
    return d


def variant_of(published: dict | None) -> Variant | None:
    """The :class:`Variant` of a catalog ``published`` block."""
    if not published:
        return None
    v = published["variant"]
    arch = {"ConvNet": "convnet", "ConvNet3": "convnet3"}[v["architecture"]]
    learned = None if v["algorithm"] == "ls" else v["labels"] == "learned"
    return Variant(v["algorithm"], v["dataset"], arch, v["ssize"], v["zca"], learned, v.get("augmentation"),
                   v.get("checkpoint"))


def config_for(variant: Variant, catalog_path=None) -> str:
    """The config name the registry gives ``variant``: the catalog config whose published block is exactly
    this variant (the LS files, the re-hosted copy), else its explicit name."""
    from . import catalog

    try:
        for e in catalog.family_entries(variant.family, catalog_path):
            if e.published and variant_of(e.published) == variant:
                return e.config
    except catalog.CatalogError:
        pass
    return variant.config_name()


# -------------------------------------------------------------------------------------------- pins


def pins_path() -> Path:
    from . import store

    return store.home() / PINS_FILE


_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
PINS_FIX = ("it guards published files against replacement: restore it from a backup, or move it aside knowingly "
            "(pins are then recorded afresh on the next verified downloads)")


def _pins_problem(d) -> str | None:
    """What is wrong with a parsed pins file (None when it has the :data:`PINS_FORMAT` structure)."""
    if not isinstance(d, dict):
        return f"a JSON {type(d).__name__}, not an object"
    if d.get("format") != PINS_FORMAT:
        return f"format {d.get('format')!r}, not {PINS_FORMAT!r}"
    files, final = d.get("files", {}), d.get("final", {})
    if not isinstance(files, dict) or not isinstance(final, dict):
        return "'files' and 'final' must be objects"
    for k, pin in files.items():
        if not isinstance(pin, dict) or not (isinstance(pin.get("sha256"), str) and _SHA256_RE.match(pin["sha256"])):
            return f"the pin of {k!r} has no sha256 of 64 hex digits"
    for k, r in final.items():
        if not isinstance(r, dict) or type(r.get("checkpoint")) is not int:
            return f"the final checkpoint of {k!r} is not an integer"
    return None


def read_pins() -> dict:
    """``<store>/published_pins.json``, checked: ``{"format", "files": {key: pin}, "final": {key: resolution}}``.

    Raises PublishedError (one line naming the file) when it cannot be read or is not of that structure.
    """
    p = pins_path()
    if not p.is_file():
        return {"format": PINS_FORMAT, "files": {}, "final": {}}
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise PublishedError(f"the pins file {str(p)!r} is malformed: {type(e).__name__}: {e}; {PINS_FIX}") from None
    problem = _pins_problem(d)
    if problem:
        raise PublishedError(f"the pins file {str(p)!r} is malformed ({problem}); {PINS_FIX}")
    d.setdefault("files", {})
    d.setdefault("final", {})
    return d


def _pins_lock():
    """The lock held for every read-modify-write of the pins file (another process may pin meanwhile)."""
    return atomic.lock(pins_path().parent / PINS_LOCK, what=str(pins_path()))


def _write_pins(d: dict) -> None:
    """Write the pins atomically; the caller holds :func:`_pins_lock` since it read them."""
    p = pins_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(p, json.dumps(d, indent=1, sort_keys=True) + "\n")


def catalog_pins(catalog_path=None) -> dict[str, dict]:
    """``{bucket path or copy name: {"sha256", "size"} or {"files_sha256"}}`` recorded in the catalog: its
    top-level ``published.pins`` and the ``sha256`` of each config's ``published`` block."""
    from . import catalog

    out = {k: dict(v) for k, v in catalog.load(catalog_path).get("published", {}).get("pins", {}).items()}
    for e in catalog.entries(catalog_path):
        p = e.published or {}
        if p.get("sha256") and p.get("path"):
            out[p["path"]] = {"sha256": p["sha256"], "size": p.get("size")}
    return out


def expected(key: str, catalog_path=None) -> tuple[dict | None, str | None]:
    """The pin of a bucket path (or re-hosted copy name): ``(pin, "catalog" | "local")`` or ``(None, None)``."""
    cat = catalog_pins(catalog_path).get(key)
    if cat:
        return cat, "catalog"
    local = read_pins()["files"].get(key)
    return (local, "local") if local else (None, None)


def check_pin(key: str, files_sha256: dict[str, str], catalog_path=None) -> dict:
    """Compare a file's sha256 (``{file name: sha256}``) with its pin; PinError when it differs.

    Returns the pin state recorded in provenance: ``{"key", "state", "where"?, "sha256"?}``.
    """
    pin, where = expected(key, catalog_path)
    if pin is None:
        return {"key": key, "state": "unpinned"}
    want = pin.get("files_sha256") or {Path(key).name: pin["sha256"]}
    have = files_sha256 if "files_sha256" in pin else {Path(key).name: next(iter(files_sha256.values()))}
    bad = {n: (have.get(n), s) for n, s in want.items() if have.get(n) != s}
    if bad:
        src = "the catalog" if where == "catalog" else f"{str(pins_path())!r} (recorded on its first verified download)"
        detail = "; ".join(f"{n}: sha256 {h}, pinned {s}" for n, (h, s) in bad.items())
        raise PinError(f"refusing {key}: its sha256 differs from the one pinned in {src} ({detail}). The file was "
                       "replaced or damaged on the way; nothing was written. If the authors really changed it, "
                       "remove its pin knowingly and import again")
    return {"key": key, "state": f"matches the {where} pin", "where": where, **pin}


def record_pin(key: str, sha256: str, size: int, url: str) -> dict:
    """Pin ``key`` locally (first verified download); returns the pin. An existing pin is never replaced.

    The read-modify-write of the pins file holds its lock, so concurrent imports lose no pin.
    """
    with _pins_lock():
        d = read_pins()
        if key in d["files"]:
            return d["files"][key]
        pin = {"sha256": sha256, "size": size, "url": url, "pinned": _now()}
        d["files"][key] = pin
        _write_pins(d)
    return pin


# ---------------------------------------------------------------------------------------- download


def base_url(base: str | None = None) -> str:
    """The bucket's URL base: ``base``, else ``$DISTILLED_REGISTRY_PUBLISHED_URL``, else :data:`BUCKET_URL`."""
    b = base or os.environ.get(URL_ENV) or BUCKET_URL
    return b if b.endswith("/") else b + "/"


def canonical_url(url: str) -> str:
    """The index's ``storage.cloud.google.com`` URLs (a browser sign-in) as ``storage.googleapis.com`` ones."""
    return re.sub(r"^https?://storage\.cloud\.google\.com/", "https://storage.googleapis.com/", url)


def is_download(url: str | None) -> bool:
    """Whether bytes from ``url`` count as a download (http or https): only a download may record a pin.

    A ``file://`` URL names a local copy, whoever made it: it is checked against a pin but never pins.
    """
    return bool(url) and urllib.parse.urlparse(url).scheme in ("http", "https")


def download(url: str, max_bytes: int | None = None, deadline_s: float | None = None,
             read_timeout_s: float | None = None) -> bytes:
    """The bytes at ``url``: http(s) through :func:`distilled_registry.download.fetch`, a file:// URL read locally.

    Caps: ``max_bytes`` (default :data:`MAX_BYTES`), the whole download within ``deadline_s`` (default
    :data:`DEADLINE_S`), ``read_timeout_s`` per read (default :data:`TIMEOUT_S`). A ``file://`` URL is
    read as the local file it names (a local copy, not a download: see :func:`is_download`).
    Raises DownloadError / PublishedError naming the URL and what failed.
    """
    url = canonical_url(url)
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        p = Path(urllib.request.url2pathname(parsed.path))
        if not p.is_file():
            raise PublishedError(f"no file at {url} ({str(p)!r})")
        if p.stat().st_size > max_bytes:
            raise PublishedError(f"{url} is {p.stat().st_size} bytes, more than the {max_bytes} accepted for it")
        return p.read_bytes()
    try:
        return dl.fetch(url, max_bytes, DEADLINE_S if deadline_s is None else deadline_s,
                        TIMEOUT_S if read_timeout_s is None else read_timeout_s)
    except dl.DownloadError as e:
        if e.status == 404:
            hint = "; that file may not be published (not every variant has every checkpoint)"
        elif e.status is None and "only http" not in str(e):
            hint = f"; set ${URL_ENV} to a mirror, or import a local copy"
        else:
            hint = ""
        raise dl.DownloadError(f"{e}{hint}", e.url, e.status) from None


def parse_index(b: bytes, algorithm: str, url: str) -> list[dict]:
    """The rows of an index body; PublishedError naming ``url`` unless it is a CSV with :data:`INDEX_COLUMNS`."""
    what = f"{url} is not the authors' index {INDEX[algorithm]}"
    try:
        reader = csv.DictReader(io.StringIO(b.decode("utf-8-sig")))
        rows = list(reader)
        columns = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as e:
        raise PublishedError(f"{what} (not a UTF-8 CSV: {e}); check the URL or use another mirror") from None
    missing = [c for c in INDEX_COLUMNS[algorithm] if c not in columns]
    if missing:
        raise PublishedError(f"{what}: it lacks the columns {missing} (it starts {b[:40]!r}: an HTML or error page?); "
                             "nothing was kept. Check the URL or use another mirror")
    return rows


def index_cache(url: str) -> Path:
    """Where the index downloaded from ``url`` is kept: ``<store>/published_index/<sha256(url)[:16]>-<name>``.

    Keyed by the URL it came from, so a mirror's copy never stands in for another's.
    """
    from . import store

    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return store.home() / "published_index" / f"{key}-{Path(urllib.parse.urlparse(url).path).name}"


def read_index(algorithm: str, base: str | None = None, get=None) -> tuple[list[dict], str, str]:
    """Rows of the authors' index ``kip/kip.csv`` or ``ls/ls.csv``: ``(rows, url, sha256)``.

    Downloaded (with ``get``, default :func:`download` capped at :data:`INDEX_MAX_BYTES`) and parsed;
    only a body that parses with the index's columns is kept, in :func:`index_cache` of its URL (remove
    the file to read the bucket's again). A ``file://`` index is read each time, not kept.
    """
    from . import release as rel

    url = base_url(base) + INDEX[algorithm]
    cache = index_cache(url)
    if cache.is_file():
        b = cache.read_bytes()
        try:
            return parse_index(b, algorithm, url), url, rel.sha256_bytes(b)
        except PublishedError:
            pass  # a damaged cached copy: read the index again (and replace it)
    b = (get or (lambda u: download(u, max_bytes=INDEX_MAX_BYTES)))(url)
    rows = parse_index(b, algorithm, url)  # before keeping anything
    if is_download(url):
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(cache, b)
    return rows, url, rel.sha256_bytes(b)


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def index_rows(variant: Variant, rows: list[dict]) -> list[dict]:
    """The index rows of ``variant`` (every checkpoint when it names none, or ``final``)."""
    out = []
    for r in rows:
        try:
            same = (r["architecture"].strip() == ARCH_FILE[variant.architecture] and r["dataset"].strip() == variant.dataset
                    and int(float(r["ssize"])) == variant.ssize and _truthy(r["zca"]) == variant.zca)
            if variant.algorithm == "kip":
                same = same and _truthy(r["l"]) == variant.learned_labels and (
                    variant.augmentation is None or _truthy(r.get("aug")) == variant.augmentation)
                if isinstance(variant.checkpoint, int):
                    same = same and int(float(r["ckpt"])) == variant.checkpoint
        except (KeyError, ValueError, AttributeError):
            continue
        if same:
            out.append(r)
    return out


def reported(row: dict | None, index_url: str, index_sha256: str | None = None) -> dict | None:
    """``metrics.reported_by_authors`` from an index row: test accuracy and MSE as the authors' index gives them."""
    if row is None:
        return None
    out = {"by": "the authors' index", "index": index_url}
    for k_out, k_in in (("test_accuracy", "test_acc"), ("test_mse", "test_mse")):
        try:
            out[k_out] = float(row[k_in])
        except (KeyError, TypeError, ValueError):
            out[k_out] = None
    if index_sha256:
        out["index_sha256"] = index_sha256
    out["note"] = ("reported by the authors (their KRR evaluation on the full test split of the original dataset); "
                   "not measured by this package")
    return out


def resolve_final(variant: Variant, base: str | None = None, get=None) -> tuple[Variant, dict | None]:
    """``final`` -> the largest checkpoint the authors' index lists for the run; pinned on first resolution.

    Returns ``(resolved variant, reported figures of that row or None)``.
    """
    if variant.checkpoint != "final":
        return variant, None
    key = variant.bucket_path()
    pins = read_pins()
    if key in pins["final"]:
        r = pins["final"][key]
        return variant.resolved(int(r["checkpoint"])), r.get("reported")
    rows, url, sha = read_index("kip", base, get)
    found = [r for r in index_rows(variant, rows) if str(r.get("ckpt", "")).strip().lstrip("-").isdigit()]
    if not found:
        raise PublishedError(f"the authors' index {url} lists no checkpoint of {key.replace('_ckpt{final}.npz', '')}; "
                             "that variant may not be published")
    row = max(found, key=lambda r: int(r["ckpt"]))
    v = variant.resolved(int(row["ckpt"]))
    rep = reported(row, url, sha)
    if not is_download(url):  # a local index (file://) resolves the name but pins nothing
        return v, rep
    with _pins_lock():  # read-modify-write under the lock; a resolution pinned meanwhile wins
        pins = read_pins()
        r = pins["final"].setdefault(key, {"checkpoint": v.checkpoint, "path": v.bucket_path(), "index_sha256": sha,
                                           "reported": rep, "resolved": _now()})
        _write_pins(pins)
    return variant.resolved(int(r["checkpoint"])), r.get("reported")


# ------------------------------------------------------------------------------------------ arrays


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip (.npz) with members, an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def _not_numpy(b: bytes, want: str, what: str) -> PublishedError:
    """The one-line error for a body that is not the numpy file expected (HTML, an error page, anything)."""
    head = b[:64].lstrip()
    looks = ("an HTML page" if head[:1] == b"<" else "an .npy array" if b.startswith(_NPY_MAGIC) else
             "an .npz" if b.startswith(_ZIP_MAGIC) else "empty" if not b else f"{b[:16]!r}")
    return PublishedError(f"cannot read {what}: it is not an {want} file (it starts like {looks}: a wrong URL, a "
                          "server's error page, or another file); check the URL or path and try again")


def read_arrays(src: str | os.PathLike | bytes, what: str | None = None
                ) -> tuple[dict, dict[str, str], dict[str, int], str]:
    """``(arrays {"images", "labels"}, {file: sha256}, {file: size}, what)`` of a published ``.npz``
    (path or bytes) or of a folder holding ``images.npy`` and ``labels.npy``.

    ``what`` names bytes in messages (their URL). The content is checked before numpy reads it: an
    ``.npz`` must be a zip, an ``.npy`` must start with numpy's magic; anything else (an HTML page) is
    one clear PublishedError, as is a truncated or damaged file. Nothing is ever unpickled.
    """
    import numpy as np

    from . import release as rel

    if isinstance(src, (bytes, bytearray)):
        raw = {"file.npz": bytes(src)}
        what = what or "the downloaded file"
    else:
        p = Path(src)
        if p.is_dir():
            missing = [n for n in ("images.npy", "labels.npy") if not (p / n).is_file()]
            if missing:
                raise PublishedError(f"{str(p)!r} lacks {' and '.join(missing)}: a published set is an .npz with "
                                     "images and labels, or a folder with images.npy and labels.npy")
            raw = {n: (p / n).read_bytes() for n in ("images.npy", "labels.npy")}
        elif p.is_file():
            raw = {p.name: p.read_bytes()}
        else:
            raise PublishedUsageError(f"no file or folder at {str(p)!r}")
        what = repr(str(p))
    arrays = {}
    if len(raw) == 2:
        for n, b in raw.items():
            if not b.startswith(_NPY_MAGIC):
                raise _not_numpy(b, ".npy", repr(str(Path(src) / n)))
    else:
        b = next(iter(raw.values()))
        if b.startswith(_NPY_MAGIC):
            raise PublishedError(f"{what} is a single array, not an .npz with images and labels")
        if not b.startswith(_ZIP_MAGIC):
            raise _not_numpy(b, ".npz", what)
    try:
        if len(raw) == 2:
            for n, b in raw.items():
                arrays[n[:-4]] = np.load(io.BytesIO(b), allow_pickle=False)
        else:
            z = np.load(io.BytesIO(next(iter(raw.values()))), allow_pickle=False)
            if not hasattr(z, "files"):
                raise PublishedError(f"{what} is a single array, not an .npz with images and labels")
            with z:
                missing = [k for k in ("images", "labels") if k not in z.files]
                if missing:
                    raise PublishedError(f"{what} lacks {missing} (it holds {z.files}); published files have "
                                         "images and labels")
                arrays = {k: z[k] for k in ("images", "labels")}
    except PublishedError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, zlib and format errors: a damaged or cut-off file
        raise PublishedError(f"cannot read {what}: it is damaged or truncated (an incomplete numpy file: "
                             f"{type(e).__name__}: {e}); download or copy it again") from None
    return (arrays, {n: rel.sha256_bytes(b) for n, b in raw.items()}, {n: len(b) for n, b in raw.items()}, what)


def check_arrays(arrays: dict, variant: Variant, what: str):
    """The published arrays as float32, checked against the variant; PublishedError naming the problem."""
    import numpy as np

    x, y = arrays["images"], arrays["labels"]
    c, shape = DATASETS[variant.dataset][:2]
    if not (np.issubdtype(x.dtype, np.floating) and np.issubdtype(y.dtype, np.floating)):
        raise PublishedError(f"{what}: images and labels must be floating point, got {x.dtype} and {y.dtype}")
    if x.ndim != 4 or tuple(x.shape[1:]) != shape:
        raise PublishedError(f"{what}: images have shape {x.shape}; {variant.dataset} sets are (N, {', '.join(map(str, shape))})")
    if y.ndim != 2 or len(y) != len(x):
        raise PublishedError(f"{what}: labels have shape {y.shape}; expected ({len(x)}, {c}), one row per image")
    if y.shape[1] != c:
        raise PublishedError(f"{what}: labels have {y.shape[1]} classes; {variant.dataset} has {c}")
    if len(x) != variant.ssize:
        raise PublishedError(f"{what}: {len(x)} images, but the name says ssize {variant.ssize}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise PublishedError(f"{what}: images or labels hold NaN or infinite values")
    return x.astype(np.float32, copy=False), y.astype(np.float32, copy=False)


# ------------------------------------------------------------------------------------------ import


def source_block(variant: Variant, fitted: dict | None = None) -> dict:
    """``provenance["source"]`` of an imported release: the dataset the authors distilled from.

    Its fingerprint is that of the original data, known only when ``fitted`` (the source the transform
    was fitted on here) is an exact copy; else null.
    """
    c, shape = DATASETS[variant.dataset][:2]
    train, test = SPLIT_SIZES[variant.dataset]
    exact = bool(fitted and fitted.get("exact_copy"))
    info = _catalog_source(variant.dataset)
    return {
        "name": variant.dataset,
        "origin": "the original dataset as the authors read it (the published file does not record how)",
        "fingerprint_sha256": fitted["fingerprint_sha256"] if exact else None,
        "fingerprint_note": ("the sha256 fingerprint of the exact local copy the transform was fitted on" if exact else
                             "unknown here: no exact copy of the original was at hand (see preprocessing.fitted_on)"),
        "files_sha256": {}, "exact_copy": True,
        "image_shape": list(shape), "num_classes": c, "class_names": class_names(variant.dataset),
        "train_size": info.get("train_size", train), "test_size": info.get("test_size", test),
        "licence": info.get("licence", SOURCE_INFO[variant.dataset][0]),
        "homepage": info.get("homepage", SOURCE_INFO[variant.dataset][1]),
    }


def _catalog_source(dataset: str) -> dict:
    from . import catalog

    try:
        return dict(catalog.load().get("sources", {}).get(dataset, {}))
    except catalog.CatalogError:
        return {}


def class_names(dataset: str) -> list[str]:
    """The dataset's class names: the catalog's ``sources`` table, else this module's copy."""
    got = _catalog_source(dataset).get("class_names")
    return list(got) if got and len(got) == DATASETS[dataset][0] else list(CLASS_NAMES[dataset])


def release_from_npz(src: str | os.PathLike | bytes, name: str, url: str | None = None, *,
                     variant: Variant | None = None, transform=None, fitted_on: dict | None = None,
                     reported_figures: dict | None = None, downloaded: bool | None = None,
                     overwrite: bool = False, catalog_path=None, _resolved_from: str | None = None) -> Path:
    """Turn a published file into a release in the local store; returns the release folder.

    Args:
      src: the ``.npz`` (path or its bytes) or a folder with ``images.npy`` and ``labels.npy``.
      name: ``family/config`` (``kip_cifar10/ipc10``, ``kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000``);
        the version is :data:`VERSION`.
      url: where it came from (recorded; None for a local file). With bytes from a URL, the file's
        sha256 is checked against its pin, and pinned when it had none (first verified download).
      variant: what the file is; default: parsed from ``url`` or the file name, else from ``name``.
      transform: the fitted :class:`~distilled_registry.transform.Transform` of the authors' preprocessing
        (None: the recipe is recorded, to be fitted later), ``fitted_on``: what it was fitted on
        (``Source.describe()``).
      reported_figures: ``metrics.reported_by_authors`` (default: the catalog's for that config).
      downloaded: whether ``src`` was downloaded from ``url`` (default: it is bytes and a URL is given).
    Raises:
      PublishedError / PinError: a file that is malformed, does not match the name, or differs from
        its pin; nothing is written then.
    """
    import numpy as np

    from . import catalog, names, store
    from . import release as rel
    from . import preview
    from .provenance import SCHEMA

    rn = names.parse(name)
    if rn.version not in (None, VERSION):
        raise PublishedUsageError(f"published imports are version {VERSION}, not {rn.version}")
    rn = names.ReleaseName(rn.family, rn.config)
    entry_variant = None
    try:
        e = catalog.entry(rn, catalog_path)
        entry_variant = variant_of(e.published)
    except catalog.CatalogError:
        e = None
    if variant is None:
        for text in (url, None if isinstance(src, (bytes, bytearray)) else str(src)):
            if text:
                try:
                    variant = parse_file_name(text, dataset=entry_variant.dataset if entry_variant else None)
                    break
                except PublishedError:
                    continue
    if variant is None:
        variant = entry_variant
    if variant is None:
        raise PublishedUsageError(f"cannot tell which published file {src if not isinstance(src, bytes) else url!r} is: "
                             f"neither its name nor {rn.name!r} follows the authors' naming scheme")
    if variant.family != rn.family:
        raise PublishedUsageError(f"{variant.stem()} is a {variant.family} file, not one of {rn.family}")
    if entry_variant is not None:
        _check_compatible(variant, entry_variant, rn.name)
    if e is None:
        raise PublishedUsageError(f"{rn.name} is not a catalog config or a published variant name "
                             f"(e.g. {rn.family}/{variant.config_name()})")
    if not e.published:
        raise PublishedUsageError(f"{rn.name} is a config of this registry's own runs with no published file (the authors "
                             f"published ConvNet and ConvNet3 sets only); import it as {rn.family}/{config_for(variant)}")

    arrays, files_sha, sizes, what = read_arrays(src, canonical_url(url) if url else None)
    images, labels = check_arrays(arrays, variant, what)
    if isinstance(src, (bytes, bytearray)) and url:
        files_sha = {Path(urllib.parse.urlparse(url).path).name or "file.npz": next(iter(files_sha.values()))}
        sizes = {next(iter(files_sha)): len(src)}
    # only bytes fetched over http(s) are a download, whatever the caller says: a file:// URL or a path
    # is a local copy, checked against a pin but never recording one
    downloaded = (downloaded is not False) and isinstance(src, (bytes, bytearray)) and is_download(url)
    key = variant.bucket_path() if variant.complete and variant.checkpoint != "final" else \
        f"{variant.dataset}_{variant.stem()}"
    pin = check_pin(key, files_sha, catalog_path)
    if pin["state"] == "unpinned" and downloaded and variant.complete:
        sha = next(iter(files_sha.values()))
        pin = {"key": key, "state": "pinned on this first verified download", "where": "local",
               **record_pin(key, sha, next(iter(sizes.values())), url)}
    elif pin["state"] == "unpinned":
        pin["note"] = ("a local file: checked against no pin (none is recorded for it); pins are recorded on the "
                       "first verified download")

    class_ids = np.argmax(labels, axis=1).astype(np.int64)
    files = {rel.DATA_FILE: rel.data_bytes(images, labels, class_ids)}
    if transform is not None:
        files[rel.TRANSFORM_FILE] = transform.to_bytes()
    names_ = class_names(variant.dataset)
    if preview.available():
        files["preview.png"] = preview.grid_png(
            [(f"{variant.algorithm.upper()} (published)", images, class_ids)], names_,
            per_class=10, labels=[labels],
            title=f"{variant.family} {variant.stem()} (the authors' published set; rows: argmax of its labels)")
    if reported_figures is None and e is not None and e.published:
        reported_figures = e.published.get("reported")
    now = _now()
    preprocessing = {"zca": variant.zca, "zca_reg": ZCA_REG if variant.zca else None,
                     "authors_recipe": PREPROCESSING_RECIPE}
    if transform is not None:
        preprocessing.update({"file": rel.TRANSFORM_FILE, **transform.params,
                              "fitted_on": _fitted(fitted_on),
                              "note": "fitted here on the training split named in fitted_on; it equals the authors' "
                                      "map only as far as that copy equals the data they used"})
    else:
        preprocessing["fit_later"] = ("no transform.npz: the source's training split was not at hand. Import again "
                                      "with --source-dir to fit the recipe above on it")
    steps = variant.checkpoint if isinstance(variant.checkpoint, int) else None
    from . import __version__

    provenance = {
        "schema": SCHEMA,
        "name": variant.family,
        "origin": {
            "kind": "published",
            "authors": AUTHORS,
            "paper": PAPERS[variant.algorithm],
            "url": canonical_url(url) if url else None,
            "original_url": _original_url(variant),
            "bucket": BUCKET_URL,
            "path": variant.bucket_path() if variant.complete and variant.checkpoint != "final" else None,
            "file": next(iter(files_sha)) if len(files_sha) == 1 else (None if isinstance(src, bytes) else Path(src).name),
            "files_sha256": files_sha,
            "files_size": sizes,
            "downloaded": downloaded,
            "variant": variant.describe(),
            **({"checkpoint_resolved_from": _resolved_from} if _resolved_from else {}),
            "pin": pin,
            "arrays": "data.npz holds the file's images and labels as published (float32, bit for bit); class_ids is "
                      "the argmax of the published labels (the classes the images started from are not in the file)",
            "imported": now,
            "imported_with": {"distilled-registry": __version__, "numpy": np.__version__, "git": _git()},
        },
        "source": source_block(variant, _fitted(fitted_on)),
        "preprocessing": preprocessing,
        "kernel": variant.kernel(),
        "algorithm": {"name": variant.algorithm, "paper": PAPERS[variant.algorithm], "support_size": int(len(images)),
                      **({"steps_run": steps} if steps is not None else {}),
                      "labels": variant.describe()["labels"]},
        "created": now,
        "metrics": {"reported_by_authors": reported_figures},
    }
    provenance["release"] = {"name": rn.name, "family": rn.family, "config": rn.config, "version": VERSION,
                             **({"catalog_published": e.published} if e is not None and e.published else {})}
    dest = store.release_dir(rn, VERSION)
    if dest.exists() and not overwrite:
        raise store.StoreConflict(f"{rn.name}:{VERSION} is already in the store at {str(dest)!r}; check it with "
                               f"`distilled-registry verify {rn.name}:{VERSION}` or replace it with --overwrite")
    rel.write_release(dest, files, provenance, overwrite=overwrite)
    return dest


def _original_url(v: Variant) -> str:
    """The file's URL in the authors' bucket; a template where the name leaves a part open."""
    if v.complete and v.checkpoint != "final":
        return BUCKET_URL + v.bucket_path()
    if v.complete:
        return BUCKET_URL + v.bucket_path().replace("{final}", "{K}") + " (K: the last checkpoint of the run)"
    full = dataclasses.replace(v, augmentation=False, checkpoint=0)
    return (BUCKET_URL + full.bucket_path().replace("_noaug_ckpt0", "_{aug|noaug}_ckpt{K}") +
            " (augmentation and checkpoint of this copy are not recorded)")


def _check_compatible(v: Variant, want: Variant, name: str) -> None:
    """Refuse a file whose name contradicts the config it is imported as (unrecorded parts may differ)."""
    fields = ("algorithm", "dataset", "architecture", "ssize", "zca", "learned_labels", "augmentation")
    bad = [f for f in fields if getattr(v, f) is not None and getattr(want, f) is not None and getattr(v, f) != getattr(want, f)]
    if isinstance(v.checkpoint, int) and isinstance(want.checkpoint, int) and v.checkpoint != want.checkpoint:
        bad.append("checkpoint")
    if bad:
        raise PublishedUsageError(f"{v.stem()} is not the file {name} names ({want.stem()}): {', '.join(bad)} differ")


def _fitted(fitted_on: dict | None) -> dict | None:
    if not fitted_on:
        return None
    keep = ("name", "origin", "fingerprint_sha256", "exact_copy", "train_size", "test_size", "files_sha256")
    d = {k: fitted_on[k] for k in keep if k in fitted_on}
    d["split"] = "train"
    if not d.get("exact_copy", True):
        d["note"] = "NOT an exact copy of the original pixels: the rebuilt transform approximates the authors'"
    return d


def download_published(name: str, base: str | None = None, catalog_path=None, get=None) -> dict:
    """Download the published file of ``name`` (a catalog config or an explicit variant name) from the bucket
    (or the mirror at ``base`` / ``$DISTILLED_REGISTRY_PUBLISHED_URL``); nothing is checked or written yet.

    ``final`` checkpoints are resolved through the authors' index (once, then pinned). Returns the keyword
    arguments of :func:`release_from_npz`: ``{"src": bytes, "name", "url", "variant", "reported_figures",
    "downloaded" (True for http(s)), "_resolved_from"}``. ``get``: ``url -> bytes`` to download with (default
    :func:`download`; a TFDS builder can pass one reading through its download manager).
    """
    from . import catalog, names

    rn = names.parse(name)
    e = catalog.entry(rn, catalog_path)
    v = variant_of(e.published)
    if v is None:
        raise PublishedUsageError(f"{e.name} has no published file (the authors published ConvNet and ConvNet3 KIP and "
                             "LS sets only); `distilled-registry regenerate` makes it from its spec")
    if not v.complete:
        raise PublishedUsageError(f"{e.name} does not record augmentation and checkpoint, so it has no bucket URL; "
                             "import a local copy with `distilled-registry import-published PATH --name NAME`")
    resolved_from = None
    rep = (e.published or {}).get("reported")
    if v.checkpoint == "final" and (e.published or {}).get("path"):  # resolved and pinned in the catalog
        v = parse_file_name(e.published["path"])
    if v.checkpoint == "final":
        v, rep_final = resolve_final(v, base, get)
        resolved_from = base_url(base) + INDEX["kip"]
        rep = rep or rep_final
    elif v.algorithm == "kip" and rep is None:
        rep = reported_from_index(v, base, get)
    url = base_url(base) + v.bucket_path()
    return {"src": (get or download)(url), "name": e.name, "url": url, "variant": v, "reported_figures": rep,
            "downloaded": is_download(url), "_resolved_from": resolved_from}


def reported_from_index(v: Variant, base: str | None = None, get=None) -> dict | None:
    """The authors' figures for a KIP file with an explicit checkpoint, from their index; None when unreadable."""
    try:
        rows, iurl, isha = read_index("kip", base, get)
    except (UserError, OSError):
        return None  # the figures are a bonus; the file is what was asked for
    found = index_rows(v, rows)
    return reported(found[0], iurl, isha) if found else None


def fetch(name: str, base: str | None = None, *, transform=None, fitted_on: dict | None = None,
          overwrite: bool = False, catalog_path=None, get=None) -> Path:
    """Download, check, pin and import the published file of ``name``; returns its release folder in the store.

    What a builder calls when a published config is not in the store (``base``: its URL base; ``get``:
    ``url -> bytes``, e.g. through its download manager). A file whose sha256 differs from its pin
    raises :class:`PinError` and nothing is written.
    """
    kw = download_published(name, base, catalog_path, get)
    return release_from_npz(**kw, transform=transform, fitted_on=fitted_on, overwrite=overwrite,
                            catalog_path=catalog_path)


def record_in_catalog(release_path: str | os.PathLike, catalog_path=None) -> dict:
    """Maintainers: pin an imported release's original file in the catalog file (for everyone).

    The release must have come from a verified download. A catalog config's ``published`` block gets
    ``sha256``, ``size`` and (for ``final``) the resolved ``path`` and ``url``; an explicit variant goes
    to the top-level ``published.pins``. Returns the pin written.
    """
    from . import catalog
    from . import release as rel

    prov = rel.verified(release_path)
    o = prov.get("origin") or {}
    if o.get("kind") != "published" or not o.get("downloaded") or not o.get("path"):
        raise PublishedUsageError(f"{release_path}: only a release imported by a verified download of a bucket file can be "
                             "pinned in the catalog")
    sha, size = next(iter(o["files_sha256"].values())), next(iter(o["files_size"].values()))
    p = Path(catalog_path) if catalog_path is not None else catalog.path()
    cat = json.loads(p.read_text())
    r = prov["release"]
    block_ = cat["families"].get(r["family"], {}).get("configs", {}).get(r["config"], {}).get("published")
    pin = {"sha256": sha, "size": size, "recorded": _now()}
    if block_ is not None:
        block_.update(path=o["path"], url=BUCKET_URL + o["path"], sha256=sha, size=size)
    else:
        cat.setdefault("published", {}).setdefault("pins", {})[o["path"]] = pin
    atomic.write_text(p, catalog.dumps(cat))
    return {"path": o["path"], **pin}


def pin_status(prov: dict, catalog_path=None) -> dict | None:
    """For ``verify``: the original file's sha256 against its pin (None for a release that was not imported)."""
    o = prov.get("origin")
    if not o or o.get("kind") != "published":
        return None
    key = (o.get("pin") or {}).get("key")
    if not key:
        return None
    try:
        state = check_pin(key, o["files_sha256"], catalog_path)
    except PinError as err:
        return {"key": key, "ok": False, "problem": str(err)}
    return {"key": key, "ok": True, "state": state["state"]}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _git() -> dict:
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        return {"commit": r.stdout.strip() or None} if r.returncode == 0 else {"commit": None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
