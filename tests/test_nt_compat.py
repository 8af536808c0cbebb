"""pipelines/nt_compat.py: neural-tangents 0.6.5 imports on the installed jax, and nothing is replaced.

On jax <= 0.5.3 every name is where neural-tangents looks, so ``restore`` sets none; on jax >= 0.6 it
sets exactly the moved ones, each the object jax keeps now. Whether the restored neural-tangents still
computes the right kernel is held by tests/test_convnet_kernel.py (fast kernel == neural-tangents).
"""

import subprocess
import sys

import jax
import pytest

NEW_JAX = tuple(int(p) for p in jax.__version__.split(".")[:2]) >= (0, 6)


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1].removeprefix("done:")


def test_restore_sets_only_what_is_missing_and_nt_imports():
    """...and neural-tangents' stax comes without TensorFlow: its TensorFlow part (experimental) loads on first use."""
    out = _run("import jax.core, jax.interpreters.ad as ad\n"
               "before = {n: getattr(jax.core, n, None) for n in ('Jaxpr', 'Var', 'ShapedArray')}\n"
               "from distilled_registry.pipelines import nt_compat\n"
               "done = nt_compat.restore()\n"
               "from jax._src import core, util, ad_util\n"
               "assert jax.core.Jaxpr is core.Jaxpr and jax.core.Var is core.Var and jax.core.Literal is core.Literal\n"
               "import jax.util\n"
               "assert jax.util.safe_map is util.safe_map and ad.zeros_like_p is ad_util.zeros_like_p\n"
               "assert jax.core.ShapedArray is before['ShapedArray']  # present names untouched\n"
               "assert nt_compat.restore() == []  # idempotent\n"
               "stax = nt_compat.stax()\n"
               "_, _, kfn = stax.serial(stax.Conv(1, (3, 3), padding='SAME'), stax.Relu(), stax.Flatten(), "
               "stax.Dense(1))\n"
               "import numpy as np\n"
               "x = np.ones((2, 4, 4, 1), np.float32)\n"
               "k = np.asarray(kfn(x, x, 'ntk'))\n"
               "assert k.shape == (2, 2) and np.isfinite(k).all()\n"
               "import sys, neural_tangents as nt\n"
               "assert 'tensorflow' not in sys.modules and 'jax.experimental.jax2tf' not in sys.modules\n"
               "assert callable(nt.experimental.empirical_ntk_fn_tf)  # loaded on first use, as it was\n"
               "assert 'tensorflow' in sys.modules\n"
               "print('done:' + ','.join(done))")
    done = [d for d in out.split(",") if d]
    if NEW_JAX:
        assert set(done) == {"jax.core.Jaxpr", "jax.core.JaxprEqn", "jax.core.Literal", "jax.core.Var",
                             "jax.core.Primitive", "jax.util", "jax.interpreters.ad.zeros_like_p"}, done
    else:
        assert done == [], done


@pytest.mark.skipif(not NEW_JAX, reason=f"jax {jax.__version__} still has the names neural-tangents 0.6.5 imports")
def test_without_restore_nt_does_not_import_on_this_jax():
    """The module is needed: on jax >= 0.6 a plain import of neural-tangents fails."""
    r = subprocess.run([sys.executable, "-c", "import neural_tangents"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "ImportError" in r.stderr
