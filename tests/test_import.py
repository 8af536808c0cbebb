import subprocess
import sys
import time


def test_import_is_light_and_fast():
    code = ("import sys, time; t = time.perf_counter(); import distilled_registry, distilled_registry.cli; "
            "print(time.perf_counter() - t); "
            "print(sorted(m for m in ('jax', 'tensorflow', 'neural_tangents', 'ray', 'datasets') if m in sys.modules))")
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    wall = time.perf_counter() - t
    seconds, heavy = r.stdout.split("\n")[:2]
    assert heavy == "[]", f"import distilled_registry pulled in {heavy}"
    assert float(seconds) < 1.0 and wall < 3.0, (seconds, wall)


def test_version_prints_the_package_version_and_exits_0():
    import distilled_registry

    r = subprocess.run([sys.executable, "-m", "distilled_registry", "--version"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"distilled-registry {distilled_registry.__version__}"
