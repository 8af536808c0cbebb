"""``croissant.json``: a release described in Croissant 1.1 JSON-LD (mlcroissant), with PROV-O provenance.

Croissant readers cannot read ``.npz``, so every release also carries ``data.parquet``: the same
arrays as ``data.npz``, one row per image (``image``: the float32 image as nested fixed-size lists,
H of W of C, so a reader gets its shape back; ``label``: int64, the class the image was distilled
for, ``class_id``, as in every loader; ``label_vector``: the float32 label vector, the target kernel
ridge regression fits; ``class_id``: int64). The record set ``records`` reads it; its array fields
declare ``isArray`` and ``arrayShape`` (``H,W,C`` and ``C``), so
``mlcroissant.Dataset("croissant.json").records("records")`` gives each image as H x W x C nested
lists and back exactly the release arrays (:func:`read_records`).

Provenance, in the PROV-O vocabulary (``prov:``):

- ``prov:wasDerivedFrom``: the source dataset (name, homepage, the sha256 fingerprint of its
  decoded data, where it was read from);
- ``prov:wasGeneratedBy``: the activity (KIP or Label Solve, its paper, start and end time, the
  kernel and software that ran it, the seed);
- ``prov:generatedAtTime``: when the release was made.

The JSON-LD is written as plain JSON, the same document mlcroissant's ``Metadata.to_json`` makes
(tests/test_croissant.py holds the two side by side), so writing a release needs neither
mlcroissant nor pandas; :func:`read_records` reads one back with mlcroissant.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import numpy as np

from . import escape
from . import release_columns as columns
from .provenance import Provenance, typed

CROISSANT_FILE = "croissant.json"
RECORDS_FILE = "data.parquet"
RECORD_SET = "records"
CLASSES = "classes"  # the enumeration record set: class index -> name
PROV = "http://www.w3.org/ns/prov#"
CROISSANT_VERSION = "http://mlcommons.org/croissant/1.1"

_FORMATS = {".parquet": "application/x-parquet", ".npz": "application/x-npz", ".png": "image/png",
            ".json": "application/json", ".md": "text/markdown"}


def records_parquet(images: np.ndarray, labels: np.ndarray, class_ids: np.ndarray) -> bytes:
    """``data.parquet`` bytes: one row per image, the columns :data:`release_columns.RECORDS` defines.

    ``image`` ((H, W, C) float32 as nested fixed-size lists), ``label`` (int64: the class the image
    was distilled for, ``class_id``, as in TFDS and on the Hub), ``label_vector`` (K float32: the row
    of ``data.npz`` ``labels``, centred one-hot or learned) and ``class_id`` (int64: the class the
    image was initialised from).
    """
    from .extras import require

    require("pyarrow", what="writing a release's data.parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    def nested(a: np.ndarray) -> "pa.Array":
        """(N, d1, ..., dk) -> N rows of d1 lists of ... dk values (Arrow fixed-size lists). The flat values
        wrap the array's own buffer (``Array.from_buffers``, no nulls): ``pa.array(ndarray)`` gives the same
        array but first imports pandas to ask whether it was given a Series (1.2 s of a run's writing)."""
        flat = np.ascontiguousarray(a.reshape(-1)).astype(a.dtype.newbyteorder("<"), copy=False)
        out = pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(flat), [None, pa.py_buffer(flat)])
        for d in reversed(a.shape[1:]):
            out = pa.FixedSizeListArray.from_arrays(out, int(d))
        return out

    cols = columns.rows(images, labels, class_ids, columns.RECORDS)
    table = pa.table({name: nested(a) for name, a in cols.items()})
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="NONE", store_schema=True)
    return buf.getvalue().to_pybytes()


# The JSON-LD context of Croissant 1.1 documents, as mlcroissant writes it.
CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
    "replace": "cr:replace", "samplingRate": "cr:samplingRate", "sc": "https://schema.org/",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}


def _file_object(fname: str, d: dict) -> dict:
    url = escape.croissant_url(fname)  # a file inside the release: relative, never a path out of it
    if url is None:
        raise ValueError(f"{fname!r} is not a plain file name of a release; refusing to describe it in croissant.json")
    return {"@type": "cr:FileObject", "@id": fname, "name": fname, "contentSize": f"{d['size']} B",
            "contentUrl": url, "encodingFormat": _FORMATS.get(Path(fname).suffix, "application/octet-stream"),
            "sha256": d["sha256"]}


# What croissant.json says of each column (its wording, kept so that releases written before read the same);
# name, type, shape and references come from the column (release_columns).
DESCRIPTIONS = {
    "image": "float32 image in the release's preprocessed space, H x W x C nested lists",
    "label": f"the class the image was distilled for, class_id (an index into the record set {CLASSES!r}); "
             "label_vector is the learned target",
    "label_vector": "float32 label vector (centred one-hot, or learned): the regression target of kernel ridge "
                    "regression",
    "class_id": f"the class the image was initialised from (an index into the record set {CLASSES!r})",
}


def _field(col: columns.Column, image_shape: tuple, num_classes: int, records_file: str) -> dict:
    """The Croissant field of release column ``col`` (:mod:`release_columns`), read from ``records_file``."""
    out = {"@type": "cr:Field", "@id": f"{RECORD_SET}/{col.name}", "name": col.name,
           "description": DESCRIPTIONS.get(col.name, col.doc)}
    if col.dims:
        out.update({"cr:arrayShape": ",".join(map(str, columns.shape(col, image_shape, num_classes))),
                    "cr:isArray": True})
    out["dataType"] = "sc:Float" if col.dtype.startswith("float") else "sc:Integer"
    if col.class_label:
        out["references"] = {"field": {"@id": f"{CLASSES}/index"}}
    out["source"] = {"fileObject": {"@id": records_file}, "extract": {"column": col.name}}
    return out


# Source licences that are SPDX identifiers (pipelines/sources.py); others stay text.
SPDX = frozenset({"BSD-3-Clause", "CC-BY-SA-3.0", "MIT", "CC-BY-4.0", "Apache-2.0"})


def licence_url(licence: str | None, source: str) -> str:
    """The SPDX licence page of the source dataset's licence, or a sentence where it has none."""
    if licence in SPDX:
        return f"https://spdx.org/licenses/{licence}.html"
    return f"{licence or 'unknown'}: the licence of the source dataset, {source}, is not stated by its authors"


def _iso(t: dt.datetime) -> str:
    """``2025-01-02T03:04:05Z`` for UTC (mlcroissant's form), else the offset."""
    text = t.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


ALGORITHM_NAMES = {"kip": "Kernel Inducing Points (KIP)", "ls": "Label Solve (LS)"}


def jsonld(provenance: Provenance | dict, digests: dict[str, dict], image_shape: tuple, num_classes: int,
           records_file: str = RECORDS_FILE) -> dict:
    """The Croissant JSON-LD of a release (the same document mlcroissant's ``Metadata.to_json`` makes).

    Args:
      provenance: the release's provenance (typed, or a schema-checked dict).
      digests: ``{file name: {"sha256", "size"}}`` of the release files it describes (must include
        ``records_file``).
      records_file: the Parquet file of the records (the Hugging Face export names its own).
      image_shape: ``(H, W, C)``; num_classes: ``C``.
    """
    p = typed(provenance)
    rel = p.release
    created = _datetime(p.created)
    creator = ({"@type": "sc:Organization", "name": f"{p.origin.authors} (the authors' published file)"}
               if _published(p) else {"@type": "sc:Organization", "name": "distilled-registry",
                                      "description": "made by distilled-registry; provenance.json names the run"})
    doc = {"@context": dict(CONTEXT), "@type": "sc:Dataset", "name": rel.name if rel else p.name,
           "description": _description(p), "conformsTo": CROISSANT_VERSION, "citeAs": p.algorithm.paper,
           "creator": creator, "dateCreated": _iso(created), "datePublished": _iso(created),
           "keywords": ["dataset distillation", "kernel ridge regression", p.algorithm.name, p.source.name],
           "license": licence_url(p.source.licence, p.source.name)}
    url = rel.url if rel else None
    if escape.croissant_url(url, relative=False):  # the release's own address (never the source's)
        doc["url"] = url
    if rel is not None:
        doc["version"] = rel.version
    doc["distribution"] = [_file_object(fname, digests[fname]) for fname in sorted(digests)]
    doc["recordSet"] = _record_sets(p, image_shape, num_classes, records_file)
    doc["@context"]["prov"] = PROV
    doc["prov:wasDerivedFrom"] = _derived_from(p)
    doc["prov:wasGeneratedBy"] = _generated_by(p, created, doc["prov:wasDerivedFrom"][0]["@id"])
    doc["prov:generatedAtTime"] = created.isoformat()
    return doc


def _published(p: Provenance) -> bool:
    """Whether the release is an import of the authors' published file (distilled_registry.published)."""
    return p.origin is not None and p.origin.kind == "published"


def _description(p: Provenance) -> str:
    """The dataset's description: what was distilled from what, how, and what it measured."""
    alg, src, k = p.algorithm, p.source, p.kernel
    kernel = f"{k.architecture} {k.get.upper()} kernel (depth {k.depth})"
    if _published(p):
        o, rep = p.origin, p.metrics.reported_test_accuracy
        return (f"{ALGORITHM_NAMES[alg.name]} distilled dataset published by its authors ({o.authors}), imported "
                f"unchanged from {o.url or o.file} (sha256 {', '.join(o.files_sha256.values())}): "
                f"{alg.support_size} images of {src.name}, {alg.labels or ''} labels, {kernel}, "
                f"{'ZCA-whitened' if p.zca else 'standardised'} image space" +
                (" (transform.npz maps raw images into it)" if p.transform_file else "") +
                (f". The authors' index reports KRR test accuracy {rep:.4f}" if rep is not None else "") +
                ". provenance.json holds the origin and the sha256 of every file.")
    cfg, m = p.config, p.metrics
    return (f"{ALGORITHM_NAMES[alg.name]} distilled from {src.name} ({src.train_size} training images): "
            f"{alg.support_size} images ({cfg.ipc} per class), "
            f"{'learned' if alg.name == 'ls' or cfg.learn_labels else 'centred one-hot'} labels, {kernel}, "
            f"{'ZCA-whitened' if cfg.zca else 'standardised'} image space (transform.npz maps raw images "
            f"into it). KRR test accuracy {m.krr_test_accuracy:.4f} on the {m.test_size}-image "
            f"test split (real images of the same number: {m.natural_krr_test_accuracy:.4f}). "
            "provenance.json holds the full recipe and the sha256 of every file.")


def _record_sets(p: Provenance, image_shape: tuple, num_classes: int, records_file: str) -> list[dict]:
    """The record sets: ``classes`` (index -> name, inline) and ``records`` (:data:`release_columns.RECORDS`)."""
    return [
        {"@type": "cr:RecordSet", "@id": CLASSES, "name": CLASSES,
         "description": f"the classes of {p.source.name}: index and name", "key": {"@id": f"{CLASSES}/index"},
         "field": [{"@type": "cr:Field", "@id": f"{CLASSES}/index", "name": "index", "dataType": "sc:Integer"},
                   {"@type": "cr:Field", "@id": f"{CLASSES}/name", "name": "name", "dataType": "sc:Text"}],
         "data": [{f"{CLASSES}/index": i, f"{CLASSES}/name": n} for i, n in enumerate(p.source.class_names)]},
        {"@type": "cr:RecordSet", "@id": RECORD_SET, "name": RECORD_SET,
         "description": "one record per distilled image",
         "field": [_field(col, image_shape, num_classes, records_file) for col in columns.RECORDS]}]


def _derived_from(p: Provenance) -> list[dict]:
    """``prov:wasDerivedFrom``: the source dataset, and first the authors' published file of an import."""
    src = p.source
    out = [{
        "@type": "prov:Entity",
        "@id": escape.croissant_url(src.homepage, relative=False) or f"urn:distilled-registry:source:{src.name}",
        "name": src.name,
        "description": (f"source dataset {src.name}, read from {src.origin}; train {src.train_size} / "
                        f"test {src.test_size} images; sha256 fingerprint of its decoded data "
                        f"{src.fingerprint_sha256}" + ("" if src.exact_copy else
                                                       "; NOT an exact copy of the original pixels")),
        "sha256": src.fingerprint_sha256,
    }]
    if _published(p):  # the activity here is the import of the authors' file, which is itself an entity
        o = p.origin
        shas = dict(o.files_sha256)
        out.insert(0, {
            "@type": "prov:Entity", "@id": escape.croissant_url(o.url, relative=False) or
            f"urn:distilled-registry:published:{o.file}",
            "name": o.file or "published file",
            "description": f"the authors' published file ({o.authors}; {o.paper or ''}); pin: {o.pin_state}",
            "sha256": next(iter(shas.values())) if len(shas) == 1 else shas})
    return out


def _generated_by(p: Provenance, created: dt.datetime, used: str) -> dict:
    """``prov:wasGeneratedBy``: the run (algorithm, kernel, seed, steps, backend, software), or the import."""
    alg = p.algorithm
    if _published(p):
        return {
            "@type": "prov:Activity", "name": "import of a published file",
            "description": f"distilled-registry import-published: the file's images and labels copied unchanged into "
                           f"data.npz; {ALGORITHM_NAMES[alg.name]} was run by the authors ({alg.paper})",
            "prov:startedAtTime": created.isoformat(), "prov:endedAtTime": created.isoformat(),
            "prov:used": {"@id": used},
            "prov:wasAssociatedWith": {"@type": "prov:SoftwareAgent",
                                       "name": f"distilled-registry {p.origin.imported_with.get('distilled-registry')}"},
        }
    run, env = p.run, p.run.environment
    kernel = json.dumps(p.as_dict()["kernel"], sort_keys=True)
    return {
        "@type": "prov:Activity",
        "name": ALGORITHM_NAMES[alg.name],
        "description": f"{alg.paper}; kernel {kernel}; seed {run.seed}; {alg.steps_run} steps; backend {run.backend} "
                       f"with {run.workers} worker(s); full config in provenance.json",
        "prov:startedAtTime": created.isoformat(),
        "prov:endedAtTime": (created + dt.timedelta(seconds=run.wall_seconds)).isoformat(timespec="seconds"),
        "prov:used": {"@id": used},
        "prov:wasAssociatedWith": {
            "@type": "prov:SoftwareAgent",
            "name": f"distilled-registry {env.get('distilled-registry')}",
            "description": f"git {run.commit}; jax {env.get('jax')}, "
                           f"neural-tangents {env.get('neural-tangents')}, optax {env.get('optax')}",
        },
    }


def release_files(files: dict[str, bytes], provenance: dict, digest) -> dict[str, bytes]:
    """``{"data.parquet": ..., "croissant.json": ...}`` for a release whose other files are ``files``.

    Args:
      files: the release's files (must include ``data.npz``), name -> bytes.
      provenance: its provenance.
      digest: ``bytes -> {"sha256", "size"}``.
    """
    with np.load(io.BytesIO(files["data.npz"]), allow_pickle=False) as z:
        images, labels, class_ids = z["images"], z["labels"], z["class_ids"]
    parquet = records_parquet(images, labels, class_ids)
    digests = {n: digest(b) for n, b in files.items() if n not in (CROISSANT_FILE, RECORDS_FILE)}
    digests[RECORDS_FILE] = digest(parquet)
    doc = jsonld(provenance, digests, images.shape[1:], labels.shape[1])
    return {RECORDS_FILE: parquet, CROISSANT_FILE: (json.dumps(doc, indent=2) + "\n").encode()}


def read_records(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The release's records as read by mlcroissant from ``<path>/croissant.json``.

    Returns ``{"images": (N,H,W,C) float32, "labels": (N,C) float32 (the label vectors),
    "label": (N,) int64 (the class, ``class_id``; older releases wrote the argmax of the label vector),
    "class_ids": (N,) int64}``. Images come as H x W x C nested lists, or flat in releases written
    before that; either is reshaped to the field's ``arrayShape``.
    """
    from .extras import require

    require("mlcroissant", what="reading croissant.json's records")
    import mlcroissant as mlc

    ds = mlc.Dataset(str(Path(path) / CROISSANT_FILE))
    fields = {f.name: f for rs in ds.metadata.record_sets if rs.name == RECORD_SET for f in rs.fields}
    shape = tuple(int(s) for s in fields["image"].array_shape.split(","))
    rows = list(ds.records(RECORD_SET))
    key = f"{RECORD_SET}/"
    return {"images": np.asarray([r[key + "image"] for r in rows], np.float32).reshape((len(rows),) + shape),
            "labels": np.asarray([r[key + "label_vector"] for r in rows], np.float32),
            "label": np.asarray([r[key + "label"] for r in rows], np.int64),
            "class_ids": np.asarray([r[key + "class_id"] for r in rows], np.int64)}


def _datetime(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
