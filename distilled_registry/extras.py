"""The optional dependencies, grouped as the package's extras (``pyproject.toml``).

``pip install distilled-registry`` is the core: list, info, load, verify and read releases with
numpy and jsonschema (about 100 MB with pip itself). Everything else is an extra, and a command that needs a missing
one says which, as a :class:`MissingExtra` (exit 1, one line):

=============  ===========================================================================
``write``      pyarrow: writing a release (``data.parquet``; import-published, store adds);
               requests: downloads (``download.fetch``: import-published, the TFDS builders)
``distill``    ``write``, jax, jaxlib, optax, scipy (the compute path); scikit-learn (the digits
               source), Pillow (the CIFAR-10 JPEG copy), matplotlib (pictures), tqdm (progress)
``gpu``        ``distill`` with jax's CUDA 12 wheels
``nt``         neural-tangents 0.6.5 (and TensorFlow): the ``fc`` kernel, ``--kernel-impl nt``
``tfds``       tensorflow-datasets: the TFDS builders, downloads of sources without local files
``hf``         datasets, huggingface_hub, jinja2 (the card template): ``export-hf``, ``push``
``croissant``  mlcroissant: reading ``croissant.json`` records back
``ray``        ``--backend ray``
``all``        every one of them (what ``make`` installs, with ``test``)
=============  ===========================================================================
"""

from __future__ import annotations

import importlib.util

from .errors import UserError

# top-level module -> the extra that installs it
EXTRA_OF = {"jax": "distill", "jaxlib": "distill", "optax": "distill", "scipy": "distill", "sklearn": "distill",
            "PIL": "distill", "matplotlib": "distill", "tqdm": "distill", "neural_tangents": "nt",
            "tensorflow_datasets": "tfds", "datasets": "hf", "huggingface_hub": "hf", "jinja2": "hf",
            "mlcroissant": "croissant", "ray": "ray", "pyarrow": "write", "requests": "write", "urllib3": "write"}
PIP_NAME = {"sklearn": "scikit-learn", "PIL": "Pillow", "neural_tangents": "neural-tangents",
            "tensorflow_datasets": "tensorflow-datasets", "huggingface_hub": "huggingface_hub"}


class MissingExtra(UserError):
    """An optional dependency a command needs is not installed (exit 1); names the extra."""


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package missing, or an import hook that refuses it
        return False


def require(*modules: str, what: str) -> None:
    """MissingExtra naming the extra (and package) to install unless every module is installed."""
    missing = [m for m in modules if not installed(m)]
    if not missing:
        return
    extras = sorted({EXTRA_OF.get(m, "all") for m in missing})
    names = ", ".join(PIP_NAME.get(m, m) for m in missing)
    raise MissingExtra(f"{what} needs {names}, not installed here: pip install "
                       f"'distilled-registry[{','.join(extras)}]'")


__all__ = ["EXTRA_OF", "MissingExtra", "installed", "require"]
