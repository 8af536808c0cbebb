"""The Hugging Face dataset card: made with huggingface_hub's DatasetCard from the template shipped with the
package; its YAML, read back by ``DatasetCard.load``, says what each release's provenance says."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("datasets")
pytest.importorskip("jinja2")

from distilled_registry import escape  # noqa: E402
from distilled_registry import release as rel  # noqa: E402
from distilled_registry.provenance import Provenance  # noqa: E402


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Two dummy LS releases of one family (learned labels) exported to a Hub folder."""
    from distilled_registry.builders import builder_testing, huggingface_export

    tmp = tmp_path_factory.mktemp("card")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DISTILLED_REGISTRY_HOME", str(tmp / "store"))
        for i, c in enumerate(["ipc1", "ipc10"]):
            builder_testing.write_dummy_release(f"ls_digits/{c}", tmp / "store", seed=i)
        return huggingface_export.export_family("ls_digits", tmp / "hub", repo_id="me/ls_digits")


def test_the_card_yaml_read_by_datasetcard_load_is_what_the_provenance_says(export):
    from huggingface_hub import DatasetCard

    from distilled_registry.builders import huggingface_export as hf

    card = DatasetCard.load(export.out / "README.md")
    meta = card.data.to_dict()
    provs = {c.config: Provenance.parse(json.loads((export.out / c.config / "provenance.json").read_text()))
             for c in export.configs}
    p = provs["ipc1"]
    assert meta["license"] == hf.licence_id(p.source.licence) == "bsd-3-clause"
    assert meta["source_datasets"] == [f"extended|{escape.markdown(p.source.label)}"] == ["extended|digits"]
    assert meta["pretty_name"].startswith(f"{p.algorithm.name.upper()} {p.source.label}: ")
    assert p.algorithm.name in meta["tags"] and "label-solve" in meta["tags"]
    assert meta["size_categories"] == [hf.size_category(max(q.algorithm.support_size for q in provs.values()))]
    assert [c["config_name"] for c in meta["configs"]] == list(provs) == ["ipc1", "ipc10"]
    assert meta["configs"][0]["default"] is True and "default" not in meta["configs"][1]
    for info in meta["dataset_info"]:
        q = provs[info["config_name"]]
        assert info["splits"] == [{"name": "train", "num_bytes": info["dataset_size"],
                                   "num_examples": q.algorithm.support_size}]
        feats = {f["name"]: f for f in info["features"]}
        assert feats["image"]["dtype"] == {"array3_d": {"shape": list(q.source.image_shape), "dtype": "float32"}}
        for name in ("label", "class_id"):
            names = feats[name]["dtype"]["class_label"]["names"]
            assert [names[str(i)] for i in range(len(names))] == list(q.source.class_names)
        assert feats["label_vector"] == {"name": "label_vector", "list": "float32", "length": q.source.num_classes}
        assert feats["index"] == {"name": "index", "dtype": "int64"}
    # the body: the template's sections, each config's figures and sha256 from its provenance
    assert card.text.startswith("\n# ") and "## Provenance" in card.text and "## Learned labels" in card.text
    for cfg, q in provs.items():
        assert f"| `{cfg}` | 1.0.0 | {q.algorithm.support_size} | learned | " in card.text
        assert q.files[rel.DATA_FILE].sha256[:16] in card.text
    hf.validate_card((export.out / "README.md").read_text())


def test_the_card_template_is_package_data_and_every_function_is_short():
    import ast
    import inspect

    from distilled_registry.builders import huggingface_export as hf

    assert hf.CARD_TEMPLATE.is_file() and "{{ card_data }}" in hf.CARD_TEMPLATE.read_text()
    tree = ast.parse(inspect.getsource(hf))
    long = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.end_lineno - f.lineno + 1 > 100]
    assert long == []
