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

CROISSANT_FILE = "croissant.json"
RECORDS_FILE = "data.parquet"
RECORD_SET = "records"
CLASSES = "classes"  # the enumeration record set: class index -> name
PROV = "http://www.w3.org/ns/prov#"
CROISSANT_VERSION = "http://mlcommons.org/croissant/1.1"

_FORMATS = {".parquet": "application/x-parquet", ".npz": "application/x-npz", ".png": "image/png",
            ".json": "application/json", ".md": "text/markdown"}


def records_parquet(images: np.ndarray, labels: np.ndarray, class_ids: np.ndarray) -> bytes:
    """``data.parquet`` bytes: one row per image, the columns every loader uses.

    ``image`` ((H, W, C) float32 as nested fixed-size lists), ``label`` (int64: the class the image
    was distilled for, ``class_id``, as in TFDS and on the Hub), ``label_vector`` (C float32: the row
    of ``data.npz`` ``labels``, centred one-hot or learned) and ``class_id`` (int64: the class the
    image was initialised from).
    """
    from .extras import require

    require("pyarrow", what="writing a release's data.parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    images = np.ascontiguousarray(images, np.float32)
    labels = np.ascontiguousarray(labels, np.float32)
    class_ids = np.asarray(class_ids, np.int64)

    def nested(a: np.ndarray) -> "pa.Array":
        """(N, d1, ..., dk) -> N rows of d1 lists of ... dk floats (Arrow fixed-size lists)."""
        out = pa.array(a.reshape(-1), type=pa.float32())
        for d in reversed(a.shape[1:]):
            out = pa.FixedSizeListArray.from_arrays(out, int(d))
        return out

    table = pa.table({"image": nested(images),
                      "label": pa.array(class_ids, type=pa.int64()),
                      "label_vector": nested(labels),
                      "class_id": pa.array(class_ids, type=pa.int64())})
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


def _field(col: str, dtype: str, shape: str | None, desc: str, references: str | None = None,
           records_file: str = RECORDS_FILE) -> dict:
    out = {"@type": "cr:Field", "@id": f"{RECORD_SET}/{col}", "name": col, "description": desc}
    if shape:
        out.update({"cr:arrayShape": shape, "cr:isArray": True})
    out["dataType"] = dtype
    if references:
        out["references"] = {"field": {"@id": references}}
    out["source"] = {"fileObject": {"@id": records_file}, "extract": {"column": col}}
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


def jsonld(provenance: dict, digests: dict[str, dict], image_shape: tuple, num_classes: int,
           records_file: str = RECORDS_FILE) -> dict:
    """The Croissant JSON-LD of a release.

    Args:
      provenance: the release's provenance (validated or about to be).
      digests: ``{file name: {"sha256", "size"}}`` of the release files it describes (must include
        ``records_file``).
      records_file: the Parquet file of the records (the Hugging Face export names its own).
      image_shape: ``(H, W, C)``; num_classes: ``C``.
    """
    rel = provenance.get("release") or {}
    name = rel.get("name") or provenance["name"]
    cfg, src, alg = provenance.get("config", {}), provenance["source"], provenance["algorithm"]
    kernel = provenance["kernel"]
    algo_name = {"kip": "Kernel Inducing Points (KIP)", "ls": "Label Solve (LS)"}[alg["name"]]
    m = provenance["metrics"]
    origin = provenance.get("origin") if (provenance.get("origin") or {}).get("kind") == "published" else None
    if origin:  # imported from the authors' published file (distilled_registry.published)
        rep = m.get("reported_by_authors") or {}
        description = (
            f"{algo_name} distilled dataset published by its authors ({origin['authors']}), imported unchanged from "
            f"{origin.get('url') or origin.get('file')} (sha256 {', '.join(origin['files_sha256'].values())}): "
            f"{alg['support_size']} images of {src['name']}, {alg.get('labels', '')} labels, "
            f"{kernel['architecture']} {kernel['get'].upper()} kernel (depth {kernel['depth']}), "
            f"{'ZCA-whitened' if provenance['preprocessing'].get('zca') else 'standardised'} image space" +
            (" (transform.npz maps raw images into it)" if provenance["preprocessing"].get("file") else "") +
            (f". The authors' index reports KRR test accuracy {rep['test_accuracy']:.4f}"
             if rep.get("test_accuracy") is not None else "") +
            ". provenance.json holds the origin and the sha256 of every file.")
    else:
        description = (
            f"{algo_name} distilled from {src['name']} ({src['train_size']} training images): "
            f"{alg['support_size']} images ({cfg['ipc']} per class), "
            f"{'learned' if alg['name'] == 'ls' or cfg.get('learn_labels') else 'centred one-hot'} labels, "
            f"{kernel['architecture']} {kernel['get'].upper()} kernel (depth {kernel['depth']}), "
            f"{'ZCA-whitened' if cfg['zca'] else 'standardised'} image space (transform.npz maps raw images "
            f"into it). KRR test accuracy {m['krr_test_accuracy']:.4f} on the {m['recipe']['test_size']}-image "
            f"test split (real images of the same number: {m['natural_krr_test_accuracy']:.4f}). "
            "provenance.json holds the full recipe and the sha256 of every file.")
    created = _datetime(provenance["created"])

    distribution = [_file_object(fname, digests[fname]) for fname in sorted(digests)]
    h, w, c = (int(v) for v in image_shape)
    f = {"records_file": records_file}
    fields = [
        _field("image", "sc:Float", f"{h},{w},{c}",
               "float32 image in the release's preprocessed space, H x W x C nested lists", **f),
        _field("label", "sc:Integer", None, "the class the image was distilled for, class_id (an index into the "
               f"record set {CLASSES!r}); label_vector is the learned target", references=f"{CLASSES}/index", **f),
        _field("label_vector", "sc:Float", f"{num_classes}", "float32 label vector (centred one-hot, or learned): "
               "the regression target of kernel ridge regression", **f),
        _field("class_id", "sc:Integer", None, "the class the image was initialised from (an index into the "
               f"record set {CLASSES!r})", references=f"{CLASSES}/index", **f),
    ]
    creator = ({"@type": "sc:Organization", "name": f"{origin['authors']} (the authors' published file)"}
               if origin else {"@type": "sc:Organization", "name": "distilled-registry",
                               "description": "made by distilled-registry; provenance.json names the run"})
    doc = {"@context": dict(CONTEXT), "@type": "sc:Dataset", "name": name, "description": description,
           "conformsTo": CROISSANT_VERSION, "citeAs": alg["paper"], "creator": creator,
           "dateCreated": _iso(created), "datePublished": _iso(created),
           "keywords": ["dataset distillation", "kernel ridge regression", alg["name"], src["name"]],
           "license": licence_url(src.get("licence"), src["name"])}
    if escape.croissant_url(rel.get("url"), relative=False):  # the release's own address (never the source's)
        doc["url"] = rel["url"]
    if rel.get("version") is not None:
        doc["version"] = rel["version"]
    doc["distribution"] = distribution
    doc["recordSet"] = [
        {"@type": "cr:RecordSet", "@id": CLASSES, "name": CLASSES,
         "description": f"the classes of {src['name']}: index and name", "key": {"@id": f"{CLASSES}/index"},
         "field": [{"@type": "cr:Field", "@id": f"{CLASSES}/index", "name": "index", "dataType": "sc:Integer"},
                   {"@type": "cr:Field", "@id": f"{CLASSES}/name", "name": "name", "dataType": "sc:Text"}],
         "data": [{f"{CLASSES}/index": i, f"{CLASSES}/name": n} for i, n in enumerate(src.get("class_names", []))]},
        {"@type": "cr:RecordSet", "@id": RECORD_SET, "name": RECORD_SET,
         "description": "one record per distilled image", "field": fields}]

    env = provenance.get("environment", {})
    wall = float(provenance.get("timing", {}).get("wall_seconds", 0.0))
    doc["@context"]["prov"] = PROV
    doc["prov:wasDerivedFrom"] = [{
        "@type": "prov:Entity",
        "@id": escape.croissant_url(src.get("homepage"), relative=False) or f"urn:distilled-registry:source:{src['name']}",
        "name": src["name"],
        "description": (f"source dataset {src['name']}, read from {src['origin']}; train {src['train_size']} / "
                        f"test {src['test_size']} images; sha256 fingerprint of its decoded data "
                        f"{src['fingerprint_sha256']}" + ("" if src.get("exact_copy", True) else
                                                           "; NOT an exact copy of the original pixels")),
        "sha256": src["fingerprint_sha256"],
    }]
    if origin:  # the activity here is the import of the authors' file, which is itself an entity
        doc["prov:wasDerivedFrom"].insert(0, {
            "@type": "prov:Entity", "@id": escape.croissant_url(origin.get("url"), relative=False) or
            f"urn:distilled-registry:published:{origin.get('file')}",
            "name": origin.get("file") or "published file",
            "description": f"the authors' published file ({origin['authors']}; {origin.get('paper', '')}); pin: "
                           f"{(origin.get('pin') or {}).get('state')}",
            "sha256": next(iter(origin["files_sha256"].values())) if len(origin["files_sha256"]) == 1 else
            origin["files_sha256"]})
        doc["prov:wasGeneratedBy"] = {
            "@type": "prov:Activity", "name": "import of a published file",
            "description": f"distilled-registry import-published: the file's images and labels copied unchanged into "
                           f"data.npz; {algo_name} was run by the authors ({alg['paper']})",
            "prov:startedAtTime": created.isoformat(), "prov:endedAtTime": created.isoformat(),
            "prov:used": {"@id": doc["prov:wasDerivedFrom"][0]["@id"]},
            "prov:wasAssociatedWith": {"@type": "prov:SoftwareAgent",
                                       "name": f"distilled-registry {(origin.get('imported_with') or {}).get('distilled-registry')}"},
        }
        doc["prov:generatedAtTime"] = created.isoformat()
        return doc
    doc["prov:wasGeneratedBy"] = {
        "@type": "prov:Activity",
        "name": algo_name,
        "description": f"{alg['paper']}; kernel {json.dumps(kernel, sort_keys=True)}; seed {provenance['seed']}; "
                       f"{alg['steps_run']} steps; backend {provenance['backend'].get('name')} with "
                       f"{provenance['backend'].get('workers')} worker(s); full config in provenance.json",
        "prov:startedAtTime": created.isoformat(),
        "prov:endedAtTime": (created + dt.timedelta(seconds=wall)).isoformat(timespec="seconds"),
        "prov:used": {"@id": doc["prov:wasDerivedFrom"][0]["@id"]},
        "prov:wasAssociatedWith": {
            "@type": "prov:SoftwareAgent",
            "name": f"distilled-registry {env.get('distilled-registry')}",
            "description": f"git {(env.get('git') or {}).get('commit')}; jax {env.get('jax')}, "
                           f"neural-tangents {env.get('neural-tangents')}, optax {env.get('optax')}",
        },
    }
    doc["prov:generatedAtTime"] = created.isoformat()
    return doc


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
