"""TFDS builders for the user's own families: releases put into the local store by ``distill --name``.

    distilled-registry distill --source ./my_images --ipc 10 --name my_images/ipc10
    import distilled_registry, tensorflow_datasets as tfds
    tfds.load("my_images/ipc10", split="train")

:func:`register_user` makes a builder class per family found in the store that the catalog does not
have (one ``BuilderConfig`` per stored config, its newest version canonical, the others supported)
and registers it with TFDS. It reads folder names only (no release is opened), so importing
``tensorflow_datasets`` stays fast; a config's features (image shape, class names from the
release's provenance) are read when the builder is made. Release files come from the store alone
(a user release has no URL), through the same checks as the catalog's (:func:`release_source.from_store`).

Families registered in a process stay as they were: a family stored later is registered by calling
:func:`distilled_registry.builders.register` again (or in a new process).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from distilled_registry import catalog, names, references, store
from distilled_registry import release as rel
from distilled_registry.errors import UserError

from . import release_source
from .release_builder import ReleaseBuilder

log = logging.getLogger(__name__)

_USER_CLASSES: dict[str, type] = {}


def stored_user_families() -> dict[str, dict[str, list[str]]]:
    """``{family: {config: [versions, oldest first]}}`` of the store's families that are not the catalog's."""
    known = {e.family for e in catalog.entries()}
    out: dict[str, dict[str, list[str]]] = {}
    for rn, _ in store.local_releases():
        if rn.family not in known:
            out.setdefault(rn.family, {}).setdefault(rn.config, []).append(rn.version)
    return out


class UserReleaseBuilder(ReleaseBuilder, skip_registration=True):
    """A user family in the local store as a TFDS dataset; concrete classes come from :func:`user_builder_class`."""

    USER_FAMILY: str = ""
    USER_CONFIGS: dict[str, list[str]] = {}

    def __init_subclass__(cls, **kwargs: Any):
        family = cls.__dict__.get("USER_FAMILY")
        if family:
            configs = cls.__dict__["USER_CONFIGS"]
            cls.name = family
            cls.BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=c, version=vs[-1], supported_versions=vs[:-1],
                                                           description=f"{family}/{c}, a release of your own")
                                   for c, vs in configs.items()]
            first = next(iter(configs.values()))[-1]
            cls.VERSION = tfds.core.Version(first)
            cls.RELEASE_NOTES = {first: "made by distilled-registry distill --name"}
            cls.pkg_dir_path = cls.code_path.parent  # builders/ (TFDS would guess a folder the editable install lacks)
        super().__init_subclass__(**kwargs)

    def _provenance(self) -> dict:
        rn = names.ReleaseName(self.USER_FAMILY, self.builder_config.name, str(self._version))
        _, path = store.resolve(rn)
        return rel.read_provenance(path)

    def _entry(self) -> catalog.Entry:
        prov = self._provenance()
        src = prov["source"]
        return catalog.Entry(
            family=self.USER_FAMILY, config=self.builder_config.name, version=str(self._version),
            algorithm=prov["algorithm"]["name"], source=src["name"], description="a release of your own",
            spec=None, settings="distill --name", paper={}, releases={},
            source_info={k: src[k] for k in ("image_shape", "num_classes", "class_names")})

    def _info(self) -> tfds.core.DatasetInfo:
        prov = self._provenance()
        src = prov["source"]
        h, w, c = (int(v) for v in src["image_shape"])
        class_names = [str(v) for v in src["class_names"]]
        features = tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(h, w, c), dtype=np.float32,
                                          doc="distilled image, float32, in the release's preprocessed space"),
            "label": tfds.features.ClassLabel(names=class_names, doc="argmax of label_vector"),
            "label_vector": tfds.features.Tensor(shape=(len(class_names),), dtype=np.float32,
                                                 doc="the release's label vector (centred one-hot or learned)"),
            "class_id": tfds.features.ClassLabel(names=class_names, doc="the class the image was initialised from"),
            "index": tfds.features.Scalar(dtype=np.int64, doc="row of the image in the release's data.npz"),
        })
        algo = prov["algorithm"]["name"]
        return self.dataset_info_from_configs(
            description=(f"{references.ALGORITHMS.get(algo, algo)} applied to your own source {src['name']} "
                         f"(licence: {src.get('licence', 'unknown')}; citation: {src.get('citation', 'unknown')}). "
                         "One example per distilled image. Provenance in info.metadata['provenance'].\n"),
            features=features,
            supervised_keys=("image", "label"),
            disable_shuffling=True,
            homepage=references.HOMEPAGE,
            citation=references.BIBTEX,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        entry = self._entry()
        version = str(self.version)
        data = release_source.from_store(entry, version)
        if data is None:
            raise release_source.ReleaseUnavailableError(
                f"{entry.name}:{version} is not in the local store {str(store.home())!r}; a release of your own "
                "comes from `distilled-registry distill ... --name` on this machine")
        self._check_shapes(data)
        self.info.metadata["provenance"] = data.provenance
        self.info.metadata["release"] = {"name": data.name, "version": data.version, "origin": data.origin,
                                         "data_sha256": data.data_sha256}
        return {"train": self._generate_examples(data)}


def user_builder_class(family: str, configs: dict[str, list[str]]) -> type:
    """The TFDS builder class of the user family ``family`` with ``configs`` (config -> versions), registered."""
    if family not in _USER_CLASSES:
        _USER_CLASSES[family] = type("Builder", (UserReleaseBuilder,), {
            "__module__": __name__, "USER_FAMILY": family, "USER_CONFIGS": dict(configs),
            "__doc__": f"TFDS builder of your release family {family} (from the local store)."})
    return _USER_CLASSES[family]


def register_user() -> list[str]:
    """Register a builder for every user family in the store not registered yet; returns their names.

    A store that cannot be read, or a name TFDS already has, is a warning, never an import error.
    """
    out = []
    try:
        families = stored_user_families()
    except UserError as e:
        log.warning("distilled_registry: not registering your store's families: %s", e)
        return out
    for family, configs in families.items():
        try:
            user_builder_class(family, configs)
            out.append(family)
        except ValueError as e:  # a TFDS dataset of that name exists already (not ours): leave it
            log.warning("distilled_registry: not registering the TFDS builder %s: %s", family, e)
    return out
