"""Shared fixtures. Real datasets come from $DISTILLED_REGISTRY_TEST_DATA (default: the
``shared/data`` folder beside this checkout, where the project's machines keep them); tests that
need them skip, saying why, when they are absent."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Ray started by the tests serves this machine alone: keep it on the loopback interface.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


# what pytest_configure sets for the run's one compilation cache
COMPILE_CACHE_VARS = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")


def pytest_configure(config) -> None:
    """One XLA compilation cache for the whole run (JAX's persistent cache, in a temporary folder this
    run makes and removes): the suite compiles the same kernels in many tests, xdist workers,
    subprocesses and Ray actors, and compiling was most of their time (a 4-step digits KIP run: 37 s
    cold, 13 s from the cache). Set here, in the controller, before any worker or jax import, so every
    process the tests start inherits it. A JAX_COMPILATION_CACHE_DIR already set is used as it is."""
    if hasattr(config, "workerinput") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    import tempfile

    config._jax_cache_dir = tempfile.mkdtemp(prefix="distilled-registry-test-xla-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = config._jax_cache_dir
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


def pytest_unconfigure(config) -> None:
    made = getattr(config, "_jax_cache_dir", None)
    if made:  # only the folder pytest_configure made
        import shutil

        shutil.rmtree(made, ignore_errors=True)
        for var in COMPILE_CACHE_VARS:
            os.environ.pop(var, None)


@pytest.fixture
def env_without_compile_cache() -> dict:
    """This process's environment without the run's compilation cache, for a child that must compile cold, as
    a user's process does (a child timed against a plan: with the cache it reads what the plan compiled)."""
    return {k: v for k, v in os.environ.items() if k not in COMPILE_CACHE_VARS}


def real_data_dir() -> Path:
    return Path(os.environ.get("DISTILLED_REGISTRY_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    d = real_data_dir()
    if not d.is_dir():
        pytest.skip(f"real datasets not found at {d} (set DISTILLED_REGISTRY_TEST_DATA)")
    return d


@pytest.fixture(scope="session")
def digits():
    from distilled_registry.pipelines import sources

    return sources.load_source("digits")


@pytest.fixture(scope="session")
def fc_kernel():
    from distilled_registry.pipelines.kernels import KernelSpec, make_kernel_fn

    return make_kernel_fn(KernelSpec("fc", depth=1))


# the caller's mirror, release URL base and source folder: a test's store is made without them
CALLER_STORE_VARS = ("DISTILLED_REGISTRY_PUBLISHED_URL", "DISTILLED_REGISTRY_SOURCE_DIR", "DISTILLED_REGISTRY_URL_BASE")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty store at ``tmp_path/store`` (``$DISTILLED_REGISTRY_HOME``), with no mirror, release URL
    base or source folder taken from the caller's environment."""
    h = tmp_path / "store"
    monkeypatch.setenv("DISTILLED_REGISTRY_HOME", str(h))
    for var in CALLER_STORE_VARS:
        monkeypatch.delenv(var, raising=False)
    return h


@pytest.fixture(scope="session")
def regenerated(tmp_path_factory) -> Path:
    """``distilled-registry regenerate kip_digits/ipc10 --json`` run once for the whole run, in a child process
    with stderr to a file, as a user's job would: ``store/`` (the store it wrote), ``stdout.json`` and
    ``stderr.log``. Under xdist the first worker to ask runs it while holding a lock in the run's shared
    temporary folder, and the others wait and read its folder (the pattern pytest-xdist documents); the
    regeneration took ~15-20 s in each of the two modules that ran their own. Tests never change this folder:
    they copy ``store/`` into their own folder first."""
    import fcntl
    import subprocess
    import sys

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, shared by its workers (not across runs)
    out = base / "regenerated-kip_digits-ipc10"
    with open(base / "regenerated-kip_digits-ipc10.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "done").exists():
            out.mkdir(exist_ok=True)
            env = {**os.environ, "DISTILLED_REGISTRY_HOME": str(out / "store")}
            for var in CALLER_STORE_VARS:
                env.pop(var, None)
            argv = [sys.executable, "-m", "distilled_registry", "regenerate", "kip_digits/ipc10", "--json"]
            with open(out / "stderr.log", "w") as log:
                r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log, text=True, timeout=600, env=env)
            assert r.returncode == 0, (out / "stderr.log").read_text()[-3000:]
            (out / "stdout.json").write_text(r.stdout)
            (out / "done").touch()
    return out

