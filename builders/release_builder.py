"""TFDS builders for the catalog: one builder per release family, one ``BuilderConfig`` per config.

    import distilled_registry, tensorflow_datasets as tfds
    ds = tfds.load("kip_digits/ipc10", split="train")           # tf.data, with TensorFlow
    src = tfds.data_source("kip_digits/ipc10", split="train")   # random access, TensorFlow not needed

Each family is a TFDS dataset folder, ``builders/<family>/``, whose module
``<family>_dataset_builder.py`` defines ``class Builder(ReleaseBuilder): FAMILY = "<family>"``, the
TFDS way (TFDS's folder loading finds it: ``python -m distilled_registry.cli.tfds_build builders/<family>``,
which is ``tfds build`` without its Apache Beam import). :class:`ReleaseBuilder` fills in the rest from
the catalog when the class is defined: the family ``kip_cifar10`` becomes the TFDS dataset
``kip_cifar10``, each catalog config a ``BuilderConfig`` whose version is the catalog config's version
(the release version it reads). The folder also holds README.md, CITATIONS.bib, TAGS.txt,
checksums.tsv, ``dummy_data/`` and the builder test
(:mod:`distilled_registry.builders.builder_folders` writes them all from the catalog); :func:`register`
imports every family's module, which registers it with TFDS.

Features, one example per distilled image, in release order (shuffling is disabled):

- ``image``: float32 Tensor of the source's shape (H, W, C), in the release's preprocessed space
  (real-valued, not uint8; ``distilled_registry.load(name).transform()`` maps raw images into it);
- ``label``: ClassLabel with the source's class names: the class the image was distilled for,
  ``class_id`` (``as_supervised=True`` gives ``(image, label)``); not the argmax of the label vector,
  which for learned labels is another class for some images, or no image at all for some classes;
- ``label_vector``: float32 (C,), the release's labels (centred one-hot, or learned): the target
  kernel ridge regression fits, to train on as the set was distilled;
- ``class_id``: ClassLabel, the class the image was initialised from (``data.npz`` ``class_ids``),
  the same as ``label``;
- ``index``: int64, the row of the image in ``data.npz``.

``info.redistribution_info.license`` is the source dataset's licence, which the release inherits.
``info.metadata`` (a ``tfds.core.MetadataDict``) holds ``provenance`` (the release's whole
``provenance.json``) and ``release`` (name, version, data.npz sha256, where it was read from).
Data come from the local store, else the release's URL, else an error naming the regenerate
command (:mod:`distilled_registry.builders.release_source`). Files are written as Parquet, which
TFDS reads both as ``tf.data`` (``tfds.load``, with TensorFlow) and by random access
(``tfds.data_source``, without TensorFlow), so both work on one data_dir in either order, TFDS's
default one included (:func:`_file_format`); pass ``file_format=`` to choose another.

A prepared copy made from a release whose ``data.npz`` has since changed in the store (a
``regenerate --overwrite``) is rebuilt on the next ``download_and_prepare``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from distilled_registry import catalog, references, source_facts
from distilled_registry import release_columns as columns
from distilled_registry.errors import UserError
from distilled_registry.provenance import Provenance

from . import release_source

log = logging.getLogger(__name__)

BUILDERS_DIR = Path(__file__).resolve().parent
DEFAULT_FILE_FORMAT = "parquet"
MODULE_SUFFIX = "_dataset_builder"  # TFDS's convention: builders/<family>/<family>_dataset_builder.py

_CLASSES: dict[str, type] = {}


def family_folder(family: str) -> Path:
    """``builders/<family>/``: the family's TFDS dataset folder (README.md, CITATIONS.bib, ...)."""
    return BUILDERS_DIR / family


class ReleaseBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A release family as a TFDS dataset; the concrete classes come from :func:`builder_class`.

    Builder kwargs (``tfds.load(..., builder_kwargs={...})``):
      url_base: where published releases are (``<url_base>/<family>/<config>/<version>/``); default
        ``$DISTILLED_REGISTRY_URL_BASE``, else the catalog record's URL.
      published_url_base: a mirror of the authors' bucket for configs with a published file that is
        neither in the store nor at ``url_base`` (default ``$DISTILLED_REGISTRY_PUBLISHED_URL``, else
        the bucket itself); the file is checked against its pin, or pinned on first download.
      file_format: TFDS file format of the prepared files (default Parquet).
    """

    FAMILY: str = ""
    VERSION = tfds.core.Version("1.0.0")

    def __init_subclass__(cls, **kwargs: Any):
        """A subclass that sets ``FAMILY`` gets its name, versions and configs from the catalog.

        This runs before TFDS registers the class (``RegisteredDataset.__init_subclass__``), so the
        family's module needs only ``class Builder(ReleaseBuilder): FAMILY = "kip_digits"``.
        """
        family = cls.__dict__.get("FAMILY")
        if family:
            entries = catalog.family_entries(family)
            cls.name = family
            cls.VERSION = tfds.core.Version(entries[0].version)
            cls.BUILDER_CONFIGS = [_builder_config(e) for e in entries]
            cls.RELEASE_NOTES = {entries[0].version: "first release"}
            cls.pkg_dir_path = cls.code_path.parent  # README.md, CITATIONS.bib, TAGS.txt, checksums.tsv
        super().__init_subclass__(**kwargs)

    def __init__(self, *, url_base: str | None = None, published_url_base: str | None = None,
                 file_format: str | None = None, **kwargs: Any):
        self._url_base = url_base
        self._published_url_base = published_url_base
        super().__init__(file_format=None, **kwargs)  # reads a prepared copy's dataset_info.json, if any
        self.info.set_file_format(_file_format(file_format, self.info.file_format if self.info.initialized else None),
                                  override=not self.info.initialized)

    def _create_builder_config(self, builder_config, version):
        """The catalog configs, and any other config name the catalog resolves (the authors' published
        variants, e.g. ``kip_cifar10/ipc10-convnet3-nozca-nol-aug-ckpt1000``), made on the fly.

        A config asked for at another version it supports (an imported published release, ``0.1.0``)
        is that config at that version: each release version is a release of its own, read from its
        own folder, and TFDS prepares only a config's own (canonical) version.
        """
        if isinstance(builder_config, str):
            name, _, v = builder_config.partition(":")
            builder_config, version = name, version or v or None
            c = {c.name: c for c in self.BUILDER_CONFIGS}.get(name)
            if c is None:
                try:
                    c = _builder_config(catalog.entry(f"{self.FAMILY}/{name}"))
                except UserError:
                    pass  # TFDS says it is unknown, with the close matches
            if c is not None:
                builder_config = c
                if version is not None and str(version) in {str(x) for x in c.supported_versions}:
                    return dataclasses.replace(c, version=str(version), supported_versions=[c.version])
        return super()._create_builder_config(builder_config, version)

    def download_and_prepare(self, *, download_dir=None, download_config=None, **kwargs: Any) -> None:
        """TFDS's ``download_and_prepare``; a prepared copy of a store release whose ``data.npz`` has
        changed since (``regenerate --overwrite``) is rebuilt."""
        if self.data_path.exists() and self._prepared_copy_is_stale():
            log.warning("%s: the prepared copy at %s was made from another data.npz than the store now "
                        "holds; rebuilding it", self.info.full_name, self.data_dir)
            download_config = download_config or tfds.download.DownloadConfig()
            download_config.download_mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
        super().download_and_prepare(download_dir=download_dir, download_config=download_config, **kwargs)

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        """The file of the module that defines the class (``builders/<family>/<family>_dataset_builder.py``).

        TFDS's own guess joins the module's dotted name onto the top package's folder, which the
        editable install maps elsewhere (``distilled_registry.builders`` is the repository's
        ``builders/``). Its folder holds README.md, TAGS.txt, checksums.tsv and dummy_data/.
        """
        return epath.Path(inspect.getfile(cls))

    def _example_writer(self) -> tfds.core.writer.ExampleWriter:
        """TFDS's writer, given each shard's examples as a list (see :class:`_ListExampleWriter`)."""
        return _ListExampleWriter(file_format=self.info.file_format)

    def _entry(self) -> catalog.Entry:
        return catalog.entry(f"{self.FAMILY}/{self.builder_config.name}")

    def _info(self) -> tfds.core.DatasetInfo:
        entries = catalog.family_entries(self.FAMILY)
        src = entries[0].source_info
        names = source_facts.class_names(entries[0].source, int(src["num_classes"]))
        features = features_of(tuple(src["image_shape"]), names)
        return self.dataset_info_from_configs(
            description=f"{_family_description(self.FAMILY)}\n",
            features=features,
            supervised_keys=("image", "label"),
            disable_shuffling=True,
            homepage=references.HOMEPAGE,
            citation=references.BIBTEX,
            license=licence(entries[0]),
            metadata=tfds.core.MetadataDict(),
        )

    def is_prepared(self) -> bool:
        """Prepared, and from the ``data.npz`` the store holds now (``tfds.load`` skips preparing otherwise)."""
        return super().is_prepared() and not self._prepared_copy_is_stale()

    def _prepared_copy_is_stale(self) -> bool:
        prepared = (self.info.metadata or {}).get("release", {}).get("data_sha256")
        try:
            entry = self._entry()
        except catalog.CatalogError:
            return False
        from distilled_registry import names, store
        from distilled_registry import release as rel

        version = str(self.version)
        rn = names.ReleaseName(entry.family, entry.config, version)
        if version not in store.versions(rn):
            return False
        try:
            stored = Provenance.from_valid(rel.read_provenance(store.release_dir(rn))).files[rel.DATA_FILE].sha256
        except UserError:  # a damaged store release: keep the copy prepared from a verified one
            return False
        return prepared != stored

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        entry = self._entry()
        version = str(self.version)
        data = release_source.from_store(entry, version)
        if data is None:
            url = release_source.release_url(entry, version, self._url_base)
            if url is not None:
                # capped, deadlined downloads (distilled_registry.download); verified files are kept in
                # the download folder, so a second prepare reads them from there
                data = release_source.from_url(entry, url, Path(dl_manager.download_dir), version,
                                               checksums=self._listed_checksums())
            elif version == entry.version:
                # nothing regenerated here: the authors' published file, when the entry has one
                data = release_source.from_published(entry, self._published_url_base)
            if data is None:
                raise release_source.ReleaseUnavailableError(release_source.unavailable_message(entry, version)
                                                             + self._other_versions_hint(entry, version))
        self._check_shapes(data)
        self.info.metadata["provenance"] = data.provenance
        self.info.metadata["release"] = {"name": data.name, "version": data.version, "origin": data.origin,
                                         "data_sha256": data.data_sha256}
        return {"train": self._generate_examples(data)}

    def _listed_checksums(self) -> dict[str, tuple[int, str]]:
        """``{url: (size, sha256)}`` of the family folder's ``checksums.tsv``, as TFDS reads it (``url_infos``).

        Release files are downloaded by :mod:`release_source` (a size cap and a deadline on each, which
        TFDS's download manager does not give), checked against these entries.
        """
        return {url: (int(i.size), str(i.checksum)) for url, i in (self.url_infos or {}).items()}

    def _other_versions_hint(self, entry: catalog.Entry, version: str) -> str:
        from distilled_registry import names, store

        stored = [v for v in store.versions(names.ReleaseName(entry.family, entry.config)) if v != version]
        usable = [v for v in stored if v in {str(x) for x in self.versions}]
        if not usable:
            return ""
        return (f". The store holds {entry.name} at version {', '.join(usable)}: "
                f"tfds.load('{entry.name}:{usable[-1]}')")

    def _check_shapes(self, data: release_source.ReleaseData) -> None:
        """The last check before examples are served, whatever the origin (store, URL, published file).

        Raises ReleaseShapeError unless images and labels have the shapes of the builder's features
        (the catalog's source), every value is finite and class ids are in ``[0, C)``
        (:func:`distilled_registry.release.check_arrays`).
        """
        from distilled_registry import release as rel

        want_image = tuple(self.info.features["image"].shape)
        want_c = self.info.features["label"].num_classes
        if data.images.ndim != 4 or tuple(data.images.shape[1:]) != want_image or data.labels.shape[1:] != (want_c,):
            raise release_source.ReleaseShapeError(
                f"{data.name}:{data.version} from {data.origin} holds images {tuple(data.images.shape[1:])} and "
                f"labels of length {data.labels.shape[1:]}; the builder {self.name} expects {want_image} and "
                f"{want_c} (the catalog's source {self._entry().source!r})")
        problem = rel.check_arrays({"images": data.images, "labels": data.labels, "class_ids": data.class_ids})
        if problem:
            raise release_source.ReleaseShapeError(
                f"{data.name}:{data.version} from {data.origin}: {problem}; refusing to serve it. Fetch it again "
                f"from a faithful copy, or make it with `distilled-registry regenerate {data.name}`")

    def _generate_examples(self, data: release_source.ReleaseData) -> Iterator[tuple[int, dict]]:
        cols = columns.rows(data.images, data.labels, data.class_ids, columns.EXAMPLE)
        for i in range(len(data.images)):
            yield i, columns.row(cols, i)


class _ListExampleWriter(tfds.core.writer.ExampleWriter):
    """Hands each shard's examples to the file adapter as a list, not an iterator.

    TFDS 4.9.10's Parquet adapter batches with ``itertools.islice(iterator, i, i + 100)``, which on
    an iterator skips every other 100 examples: a shard of 200 examples came out with 100 rows
    while ``dataset_info.json`` said 200. On a list the same slicing is right. Releases are small
    (at most a few thousand images), so a shard in memory is cheap.
    """

    def write(self, path, examples):
        return super().write(path, list(examples))


def features_of(image_shape: tuple[int, int, int], class_names: list[str]) -> tfds.features.FeaturesDict:
    """The TFDS features of a release: its columns (:data:`release_columns.EXAMPLE`), class labels as
    ``ClassLabel``, arrays as ``Tensor`` of their shape, scalars as ``Scalar``, each with its meaning as doc."""
    def feature(col: columns.Column):
        shape = columns.shape(col, image_shape, len(class_names))
        if col.class_label:
            return tfds.features.ClassLabel(names=class_names, doc=col.doc)
        if shape:
            return tfds.features.Tensor(shape=shape, dtype=np.dtype(col.dtype), doc=col.doc)
        return tfds.features.Scalar(dtype=np.dtype(col.dtype), doc=col.doc)

    return tfds.features.FeaturesDict({col.name: feature(col) for col in columns.EXAMPLE})


def _file_format(asked: str | tfds.core.FileFormat | None,
                 prepared: tfds.core.FileFormat | None) -> tfds.core.FileFormat:
    """The file format to read or write: a prepared copy's own, unless another one is truly asked for.

    ``tfds.data_source`` with TFDS's default data_dir (no ``data_dir=``, no ``builder_kwargs``) asks
    for ArrayRecord on every call, and ``tfds.load`` asks for nothing, so in one data_dir the second
    of the two met a copy the first prepared in the other format and TFDS refused ("File format is
    already set"). ArrayRecord is taken as "random access": it is served by Parquet (random access
    too, and also read by ``tf.data``, which ArrayRecord is not), or by a copy already prepared in any
    random-access format. Any other format asked for is TFDS's to honour or refuse. Nothing asked
    for: the prepared copy's format, else Parquet.
    """
    FileFormat = tfds.core.FileFormat
    want = FileFormat.from_value(asked) if asked else None
    if want == FileFormat.ARRAY_RECORD:
        want = prepared if prepared in FileFormat.with_random_access() else FileFormat.PARQUET
    return want or prepared or FileFormat.from_value(DEFAULT_FILE_FORMAT)


def licence(e: catalog.Entry) -> str:
    """The release's licence as ``dataset_info.json`` records it: the source dataset's, which it inherits."""
    from distilled_registry import croissant

    text = e.source_info.get("licence") or "unknown"
    return f"{text}, inherited from the source dataset {e.source} ({croissant.licence_url(text, e.source)})"


def _family_description(family: str) -> str:
    e = catalog.family_entries(family)[0]
    desc = catalog.family_description(family)
    return (f"{desc}: {references.ALGORITHMS.get(e.algorithm, e.algorithm)} applied to {e.source}. One example per "
            "distilled image; float32 images in the release's preprocessed space; learned or centred one-hot "
            "label vectors. Provenance in info.metadata['provenance'].")


def _builder_config(e: catalog.Entry) -> tfds.core.BuilderConfig:
    """The BuilderConfig of a catalog entry: its version, and the published import's version beside it."""
    supported = []
    published_version = (getattr(e, "published", None) or {}).get("version")
    if published_version and published_version != e.version:
        supported.append(published_version)  # the authors' file imported into the store (import-published)
    return tfds.core.BuilderConfig(name=e.config, version=e.version, supported_versions=supported,
                                   description=e.description or None)


def family_module(family: str) -> str:
    """The import name of the family's builder module: ``distilled_registry.builders.<family>.<family>_dataset_builder``."""
    return f"{__package__}.{family}.{family}{MODULE_SUFFIX}"


def builder_class(family: str) -> type:
    """The TFDS builder class of ``family``: the ``Builder`` of its folder's module, registered with TFDS.

    ``builders/<family>/<family>_dataset_builder.py`` defines it (``distilled-registry builders``
    writes that module); a catalog family without a folder yet gets the same class made here.

    Raises:
      CatalogError: the catalog has no such family.
    """
    if family in _CLASSES:
        return _CLASSES[family]
    catalog.family_entries(family)  # CatalogError for an unknown family, before any import
    module = family_module(family)
    try:
        cls = importlib.import_module(module).Builder
    except ModuleNotFoundError as e:
        if e.name not in (module, module.rpartition(".")[0]):
            raise
        cls = type("Builder", (ReleaseBuilder,), {"__module__": __name__, "FAMILY": family, "__doc__":
                                                   f"TFDS builder of the release family {family} (no folder yet)."})
    _CLASSES[family] = cls
    return cls
def register() -> list[str]:
    """Create and register a builder for every catalog family; returns their names. Idempotent.
    (The families of your own in the store: :func:`.user_builders.register_user`; both: ``builders.register``.)"""
    out = []
    families = list(dict.fromkeys(e.family for e in catalog.entries()))
    for family in families:
        try:
            builder_class(family)
            out.append(family)
        except ValueError as e:  # a TFDS dataset of that name exists already (not ours): leave it
            log.warning("distilled_registry: not registering the TFDS builder %s: %s", family, e)
    return out
