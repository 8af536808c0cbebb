"""Names of the authors' published files: :class:`Variant`, parsing, and the catalog's ``published`` block.

File names in the bucket::

    kip/{dataset}/{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}_{l|nol}_{aug|noaug}_ckpt{K}.npz
    ls/{dataset}/{ConvNet|ConvNet3}_ssize{N}_{zca|nozca}.npz

and the registry's explicit config names, ``ipc{I}-{convnet|convnet3}-{zca|nozca}-{l|nol}-{aug|noaug}-{ckpt{K}|final}``
(KIP) and ``ipc{I}-{convnet|convnet3}-{zca|nozca}`` (LS), map one to the other
(:func:`parse_config`, :meth:`Variant.config_name`, :func:`parse_file_name`).
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse

from . import source_facts
from .errors import PublishedUsageError

BUCKET_URL = "https://storage.googleapis.com/kip-datasets/"


VERSION = "0.1.0"


INDEX = {"kip": "kip/kip.csv", "ls": "ls/ls.csv"}


# dataset: the support sizes (all classes together) of the published (KIP, LS) sets
SUPPORT_SIZES = {
    "mnist": ((10, 100, 500), (10, 100, 500)),
    "fashion_mnist": ((10, 100, 500), (10, 100, 500)),
    "svhn_cropped": ((10, 100, 500), (10, 100, 500)),
    "cifar10": ((10, 100, 500), (10, 100, 500)),
    "cifar100": ((100, 1000), (100, 500, 1000)),
}


HEADLINE_ZCA = {"mnist": False, "fashion_mnist": False, "svhn_cropped": True, "cifar10": True, "cifar100": True}


CHECKPOINTS = ((0, 1, 2, 4, 6, 8, 12, 18, 26, 37, 54, 78, 112, 162, 233, 335, 483, 695, 1000)
               + tuple(range(1500, 50001, 500)))


ARCH_FILE = {"convnet": "ConvNet", "convnet3": "ConvNet3"}


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
        if self.dataset not in SUPPORT_SIZES:
            raise PublishedUsageError(f"no published sets of {self.dataset!r}; the authors published "
                                      f"{', '.join(SUPPORT_SIZES)}")
        if self.architecture not in ARCH_FILE:
            raise PublishedUsageError(f"published sets use ConvNet or ConvNet3 kernels, not {self.architecture!r}")
        sizes = SUPPORT_SIZES[self.dataset][0 if self.algorithm == "kip" else 1]
        if self.ssize not in sizes:
            raise PublishedUsageError(f"the authors published {self.algorithm.upper()} {self.dataset} sets of "
                                 f"{', '.join(map(str, sizes))} images, not {self.ssize}")
        if self.algorithm == "kip":
            if self.learned_labels is None:
                raise PublishedUsageError("a KIP file name records learned (_l) or fixed (_nol) labels")
            if (self.augmentation is None) != (self.checkpoint is None):
                raise PublishedUsageError("a KIP name records augmentation and checkpoint together, or neither")
            if isinstance(self.checkpoint, int) and self.checkpoint not in CHECKPOINTS:
                raise PublishedUsageError(f"checkpoint {self.checkpoint} is not one the authors saved: 0, 1, 2, 4, "
                                          "6, 8, 12, 18, 26, 37, 54, 78, 112, 162, 233, 335, 483, 695, 1000, then "
                                          "every 500 up to 50000")
            if isinstance(self.checkpoint, str) and self.checkpoint != "final":
                raise PublishedUsageError(f"checkpoint {self.checkpoint!r}: give ckpt<K> or final")
        elif (self.learned_labels, self.augmentation, self.checkpoint) != (None, None, None):
            raise PublishedUsageError("LS files record no labels, augmentation or checkpoint (their labels are solved)")

    @property
    def num_classes(self) -> int:
        return source_facts.get(self.dataset).num_classes

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
                "labels": ("solved" if self.algorithm == "ls"
                           else "learned" if self.learned_labels else "fixed (one-hot)"),
                "augmentation": self.augmentation, "checkpoint": self.checkpoint}

    def kernel(self) -> dict:
        """The kernel the authors distilled with (docs/design.md, "Kernels").

        ConvNet(3), depth 3, NTK, W_std sqrt(2), b_std 0.1.
        """
        return {"architecture": self.architecture, "depth": 3, "W_std": 2 ** 0.5, "b_std": 0.1, "get": "ntk",
                "impl": "nt"}


def headline(family: str, ipc: int) -> Variant:
    """The paper's headline variant of a default KIP config (``final`` checkpoint) or the LS default."""
    alg, _, dataset = family.partition("_")
    if alg == "kip":
        return Variant("kip", dataset, "convnet", ipc * _classes(dataset), HEADLINE_ZCA.get(dataset, True),
                       learned_labels=True, augmentation=False, checkpoint="final")
    return Variant("ls", dataset, "convnet", ipc * _classes(dataset), HEADLINE_ZCA.get(dataset, True))


def _classes(dataset: str) -> int:
    return source_facts.SOURCES[dataset].num_classes if dataset in source_facts.SOURCES else 1


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
    if not m or alg not in ("kip", "ls") or dataset not in SUPPORT_SIZES:
        return None
    if (alg == "kip") != (m["l"] is not None):
        return None
    ckpt = m["ckpt"]
    return Variant(alg, dataset, m["arch"], int(m["ipc"]) * _classes(dataset), m["zca"] == "zca",
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
    if len(parts) >= 3 and parts[-3] in ("kip", "ls") and parts[-2] in SUPPORT_SIZES:
        folder_alg, folder_ds = parts[-3], parts[-2]
    elif len(parts) >= 2 and parts[-2] in SUPPORT_SIZES:
        folder_ds = parts[-2]
    found = [d for d in (dataset, folder_ds, m["dataset"]) if d]
    if not found:
        raise PublishedUsageError(f"{name!r} does not say which dataset it was distilled from; give --dataset "
                             f"({', '.join(SUPPORT_SIZES)}) or --name")
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


def block(variant: Variant, reported: dict | None = None) -> dict:
    """The catalog's ``published`` block of ``variant``.

    :func:`distilled_registry.catalog.published_block` adds its recorded pin.
    """
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

