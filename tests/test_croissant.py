"""croissant.json: loads with mlcroissant, its records equal the release arrays, it pins the files by
sha256 and carries PROV-O provenance."""

import json
import subprocess
import sys

import numpy as np
import pytest

import synthetic_release as syn
from distilled_registry import croissant, store
from distilled_registry import release as rel


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    """A synthetic RGB release (ZCA-free), put into a store so it carries a release name."""
    tmp = tmp_path_factory.mktemp("croissant")
    src, data = syn.write(tmp / "made", n_per_class=3, num_classes=4, shape=(4, 4, 3), seed=7, family="kip_cifar10")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DISTILLED_REGISTRY_HOME", str(tmp / "store"))
        path = store.add(src, "kip_cifar10/ipc3-test", "1.2.3")
    return path, data


def test_records_equal_the_release_arrays(release_dir, tmp_path, monkeypatch):
    import mlcroissant as mlc

    path, data = release_dir
    monkeypatch.chdir(tmp_path)  # file URLs resolve against croissant.json's folder, not the working directory
    ds = mlc.Dataset(str(path / "croissant.json"))
    assert not ds.metadata.issues.errors, ds.metadata.issues.report()
    rows = list(ds.records("records"))
    assert len(rows) == 12
    images = [np.asarray(r["records/image"], np.float32) for r in rows]
    assert {x.shape for x in images} == {(4, 4, 3)}  # each image H x W x C, not a flat list
    np.testing.assert_array_equal(np.stack(images), data["images"])
    np.testing.assert_array_equal(np.asarray([r["records/label_vector"] for r in rows], np.float32), data["labels"])
    # one meaning of label everywhere (parquet, Croissant, TFDS, the Hub): the class the image was distilled for
    assert [int(r["records/label"]) for r in rows] == data["class_ids"].tolist()
    assert [int(r["records/class_id"]) for r in rows] == data["class_ids"].tolist()
    back = croissant.read_records(path)
    for k in ("images", "labels", "class_ids"):
        np.testing.assert_array_equal(back[k], data[k])
        assert back[k].dtype == data[k].dtype
    np.testing.assert_array_equal(back["label"], data["class_ids"])


def test_metadata_pins_files_and_carries_prov(release_dir):
    import mlcroissant as mlc

    path, _ = release_dir
    doc = json.loads((path / "croissant.json").read_text())
    prov = rel.read_provenance(path)
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert doc["name"] == "kip_cifar10/ipc3-test" and doc["version"] == "1.2.3"
    files = {d["name"]: d for d in doc["distribution"]}
    assert set(files) == set(prov["files"]) - {"croissant.json"}
    for name, d in files.items():
        assert d["sha256"] == prov["files"][name]["sha256"] == rel.sha256_file(path / name)
    assert doc["@context"]["prov"] == "http://www.w3.org/ns/prov#"
    derived = doc["prov:wasDerivedFrom"][0]
    assert derived["sha256"] == prov["source"]["fingerprint_sha256"] and derived["name"] == prov["source"]["name"] == "synthetic"
    act = doc["prov:wasGeneratedBy"]
    assert act["@type"] == "prov:Activity" and act["prov:startedAtTime"] == "2025-01-02T03:04:05+00:00"
    assert act["prov:endedAtTime"] == "2025-01-02T03:04:06+00:00"  # started + wall_seconds (1.5 s, to the second)
    assert doc["prov:generatedAtTime"] == prov["created"]
    fields = {f["name"]: f for f in doc["recordSet"][1]["field"]}
    # class names as an enumeration the class ids reference; an SPDX licence; a creator; no source url
    classes = doc["recordSet"][0]
    assert classes["@id"] == "classes" and [r["classes/name"] for r in classes["data"]] == prov["source"]["class_names"]
    assert fields["class_id"]["references"] == {"field": {"@id": "classes/index"}}
    assert doc["license"] == "https://spdx.org/licenses/BSD-3-Clause.html"
    assert doc["creator"]["name"] == "distilled-registry" and "url" not in doc
    assert fields["image"]["cr:arrayShape"] == "4,4,3" and fields["label_vector"]["cr:arrayShape"] == "4"
    assert fields["label"]["dataType"] == "sc:Integer" and fields["label"]["references"] == fields["class_id"]["references"]
    # mlcroissant reads the metadata back without errors
    md = mlc.Dataset(str(path / "croissant.json")).metadata
    assert md.version == "1.2.3"


def test_data_parquet_is_deterministic():
    data = syn.arrays(seed=3)
    assert croissant.records_parquet(**data) == croissant.records_parquet(**data)


def test_data_parquet_equals_pyarrows_own_arrays_and_writing_it_imports_no_pandas():
    """The columns wrap the arrays' buffers (``Array.from_buffers``): the bytes ``pa.array`` gives, read back as the
    arrays, and in a fresh process pandas (1.2 s, what ``pa.array`` imports first) stays unimported."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from distilled_registry import release_columns as columns

    data = syn.arrays(seed=3)

    def nested(a):
        out = pa.array(a.reshape(-1), type=pa.from_numpy_dtype(a.dtype))
        for d in reversed(a.shape[1:]):
            out = pa.FixedSizeListArray.from_arrays(out, int(d))
        return out

    cols = columns.rows(data["images"], data["labels"], data["class_ids"], columns.RECORDS)
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({k: nested(a) for k, a in cols.items()}), buf, compression="NONE", store_schema=True)
    got = croissant.records_parquet(**data)
    assert got == buf.getvalue().to_pybytes()
    table = pq.read_table(pa.BufferReader(got))
    for name, a in cols.items():
        flat = table.column(name).combine_chunks()
        while pa.types.is_fixed_size_list(flat.type):
            flat = flat.flatten()
        np.testing.assert_array_equal(flat.to_numpy().reshape(a.shape), a)
    code = ("import sys, numpy as np; from distilled_registry import croissant; "
            "croissant.records_parquet(np.zeros((2, 3, 3, 1), np.float32), np.eye(2, dtype=np.float32), "
            "np.arange(2)); print('pandas' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr


def _mlcroissant_metadata(doc: dict) -> dict:
    """The Dataset part of ``doc`` made again by mlcroissant's own classes (``Metadata.to_json``)."""
    import mlcroissant as mlc

    ctx = mlc.Context(conforms_to=croissant.CROISSANT_VERSION)
    files = [mlc.FileObject(ctx=ctx, id=f["@id"], name=f["name"], content_url=f["contentUrl"], sha256=f["sha256"],
                            content_size=f["contentSize"], encoding_formats=[f["encodingFormat"]])
             for f in doc["distribution"]]
    types = {"sc:Float": mlc.DataType.FLOAT, "sc:Integer": mlc.DataType.INTEGER, "sc:Text": mlc.DataType.TEXT}
    classes_doc, records_doc = doc["recordSet"]
    classes = mlc.RecordSet(
        ctx=ctx, id="classes", name="classes", description=classes_doc["description"], key="classes/index",
        fields=[mlc.Field(ctx=ctx, id=f["@id"], name=f["name"], data_types=[types[f["dataType"]]])
                for f in classes_doc["field"]],
        data=classes_doc["data"])
    fields = [mlc.Field(ctx=ctx, id=f["@id"], name=f["name"], description=f["description"],
                        data_types=[types[f["dataType"]]], is_array=f.get("cr:isArray"),
                        array_shape=f.get("cr:arrayShape"),
                        references=mlc.Source(ctx=ctx, field=f["references"]["field"]["@id"]) if "references" in f
                        else None,
                        source=mlc.Source(ctx=ctx, file_object=croissant.RECORDS_FILE,
                                          extract=mlc.Extract(ctx=ctx, column=f["source"]["extract"]["column"])))
              for f in records_doc["field"]]
    record_set = mlc.RecordSet(ctx=ctx, id="records", name="records", description=records_doc["description"],
                               fields=fields)
    from datetime import datetime

    created = datetime.fromisoformat(doc["dateCreated"].replace("Z", "+00:00"))
    creator = mlc.Organization(ctx=ctx, name=doc["creator"]["name"], description=doc["creator"].get("description"))
    return mlc.Metadata(ctx=ctx, name=doc["name"], description=doc["description"], version=doc.get("version"),
                        license=[doc["license"]], cite_as=doc["citeAs"], url=doc.get("url"), date_created=created,
                        date_published=created, keywords=doc["keywords"], distribution=files, creators=[creator],
                        record_sets=[classes, record_set]).to_json()


@pytest.mark.parametrize("versioned", [True, False])
def test_the_plain_json_writer_equals_mlcroissants_own(release_dir, tmp_path, versioned):
    """croissant.jsonld writes JSON by hand (no mlcroissant at write time): the same document, in the
    same key order, as mlcroissant's Metadata.to_json for the same values."""
    path, data = release_dir
    if versioned:
        doc = json.loads((path / "croissant.json").read_text())
    else:
        prov = syn.provenance(data)
        prov["files"] = {n: rel.digest(b) for n, b in syn.files(data).items()}
        digests = {**prov["files"], croissant.RECORDS_FILE: rel.digest(croissant.records_parquet(**data))}
        doc = croissant.jsonld(prov, digests, data["images"].shape[1:], data["labels"].shape[1])
        assert "version" not in doc
    ours = {k: v for k, v in doc.items() if not k.startswith("prov:")}
    ours["@context"] = {k: v for k, v in ours["@context"].items() if k != "prov"}
    theirs = _mlcroissant_metadata(doc)
    assert json.dumps(ours, indent=1) == json.dumps(theirs, indent=1)


def _validate(path) -> tuple[list[str], list[str]]:
    """mlcroissant's validation of ``path`` (what its ``validate`` command does: the metadata built from the
    JSON-LD, every node checked): ``(errors, warnings)``."""
    import mlcroissant as mlc

    try:
        md = mlc.Metadata.from_file(ctx=mlc.Context(), file=str(path))
    except mlc.ValidationError as e:  # raised for any error, with mlcroissant's report
        return [str(e)], []
    return sorted(md.ctx.issues.errors), sorted(md.ctx.issues.warnings)


def test_croissant_passes_mlcroissant_validation(release_dir, tmp_path):
    """A store release's croissant.json validates with no error or warning; one written outside a store (no
    release block) with no error, its one warning the version it has not got yet; a broken one (a field
    without its data type) is caught, so the check can fail."""
    path, data = release_dir
    assert _validate(path / "croissant.json") == ([], [])
    prov = syn.provenance(data)
    prov["files"] = {n: rel.digest(b) for n, b in syn.files(data).items()}
    digests = {**prov["files"], croissant.RECORDS_FILE: rel.digest(croissant.records_parquet(**data))}
    doc = croissant.jsonld(prov, digests, data["images"].shape[1:], data["labels"].shape[1])
    (tmp_path / "croissant.json").write_text(json.dumps(doc))
    errors, warnings = _validate(tmp_path / "croissant.json")
    assert errors == [] and len(warnings) == 1 and '"https://schema.org/version" is recommended' in warnings[0]
    del doc["recordSet"][1]["field"][0]["dataType"]
    (tmp_path / "broken.json").write_text(json.dumps(doc))
    errors, _ = _validate(tmp_path / "broken.json")
    assert any("Field(image)" in e and "dataType" in e for e in errors), errors
