"""The GPU run of issues 16 and 22, prepared as one command: the ConvNet releases' cost and fidelity on a GPU.

Steps, in priority order; each writes its figures into ``--out`` the moment it ends
(``gpu_run.json``, rewritten atomically), so a run cut short still returns what it finished:

1. ``kip_step``: seconds per KIP step of ``kip_cifar10/ipc10`` (100 support and 5000 target
   images, 505,050 kernel entries, forward + vjp + KRR loss + Adam; ``benchmarks/kip_step.py``)
   at full float32 precision, and the fast kernel on the GPU against the same kernel on the
   CPU (``jax.devices("cpu")``) on a few image pairs: the largest relative difference.
2. ``kip_mnist_ipc1``: the committed ``kip_mnist/ipc1`` release (``--mnist-start``) continued at the
   authors' target batch of 5000 (``--mnist-batch``, Adam at ``--mnist-lr``) for ``--mnist-minutes``:
   ``distill --init-from`` in a child process, checkpointing every ``--checkpoint-every`` steps; when its
   minutes are up the child is killed and ``distill --resume --steps S`` (S: the last checkpoint's step)
   writes the release from that checkpoint. The release is packed as ``kip_mnist_ipc1_gpu.tar``; beside
   its test figure, the KRR accuracy of it and of its start release on the 5,000-image training sample
   (``benchmarks/train_sample_accuracy.py``, seed 0), the figure that decides whether it replaces the start
   release (``benchmarks/results/kip_mnist_ipc1_decision.md``): the test split only reports.
3. ``ls``: ``ls_mnist/ipc10``, ``ls_fashion_mnist/ipc10``, ``ls_cifar10/ipc10`` (the catalog
   specs, on the local files under ``--data``), each a release folder packed as
   ``<family>_<config>.tar`` in ``--out`` with its accuracy and wall time beside the authors'
   figure. A source whose files are not under ``--data`` is skipped and says so.
4. ``kip``: ``kip_cifar10/ipc10`` for the minutes left before ``--minutes``: Adam steps with a
   checkpoint (``kip_cifar10_ipc10.ckpt.tar``) every ``--checkpoint-every`` steps, and the KRR
   test accuracy of the support set every ``--eval-every`` steps. ``--resume TAR`` continues
   from a checkpoint an earlier call brought back.

The device machine returns at most 8 files of at most 16 MiB: ``gpu_run.json``, a tar per LS
release (cut into ``.part0``, ``.part1``, ... when larger: ``cat NAME.part* > NAME``; the CIFAR-10
release is about 41 MB, mostly its ZCA matrix), the MNIST release tar and the checkpoint tar: with
every step that is 8 files, so a call that brings all the data runs all; the data of all three
sources (60 MB) and the repository do not fit the 64 MiB that travels, so a call carries the
sources of the steps it runs (``--only``; a step whose source is absent says so and is skipped): the
repository is 47 MiB, so MNIST fits beside it and CIFAR-10 does not (``gpu_prepare.sh`` adds it up).
Back here, unpack each release into a folder and run ``distilled-registry verify FOLDER``. On the
device (Python 3.12, jax 0.11.2 with CUDA, no network) through ``benchmarks/gpu_device.sh``, after
``benchmarks/gpu_prepare.sh`` here made what the call carries (this package and jsonschema's wheels,
the data in ``gpu_data/``)::

    run(command="bash benchmarks/gpu_device.sh --minutes 9 --mnist-minutes 5 --only kip_step kip_mnist_ipc1",
        carry=[".whl", "gpu_data"], timeout_s=600)

Here, end to end at toy size on the CPU (small copies of the sources, a few steps)::

    .venv/bin/python benchmarks/gpu_run.py --data ../shared/data --out /tmp/gpu_toy --toy
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

LS_NAMES = ("ls_mnist/ipc10", "ls_fashion_mnist/ipc10", "ls_cifar10/ipc10")
KIP_NAME = "kip_cifar10/ipc10"
REPO = Path(__file__).resolve().parents[1]
MNIST_START = REPO / "benchmarks" / "results" / "runs" / "kip_mnist_ipc1_refined"  # the kip_mnist/ipc1 of ours
STEPS = ("kip_step", "kip_mnist_ipc1", "ls", "kip")
# the command line in a child process: -P keeps the working folder (the repository root on the device) off sys.path,
# so the child imports the package installed for this python, as this process does, not the source tree's folders
CLI = (sys.executable, "-P", "-m", "distilled_registry")
SOURCE_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}


class Report:
    """``gpu_run.json`` in ``out``, rewritten atomically after every change."""

    def __init__(self, out: Path, head: dict):
        self.path = out / "gpu_run.json"
        self.doc = {**head, "steps": {}}
        self.save()

    def put(self, key: str, value) -> None:
        self.doc["steps"][key] = value
        self.save()
        print(f"[{time.strftime('%H:%M:%S')}] {key}: {json.dumps(value, default=float)[:500]}", flush=True)

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.doc, indent=2, default=float) + "\n")
        os.replace(tmp, self.path)


PART_BYTES = 15 * 2 ** 20  # the device returns files of at most 16 MiB


def pack(folder: Path, tar_path: Path) -> list[str]:
    """``folder`` as an uncompressed tar (its files at the top level), written atomically.

    A tar over :data:`PART_BYTES` (CIFAR-10's ZCA ``transform.npz`` alone is 38 MB) is cut into
    ``NAME.part0``, ``NAME.part1``, ...: ``cat NAME.part* > NAME`` puts it back. Returns the names.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted(folder.iterdir()):
            tar.add(f, arcname=f.name)
    raw = buf.getvalue()
    parts = [raw] if len(raw) <= PART_BYTES else [raw[i:i + PART_BYTES] for i in range(0, len(raw), PART_BYTES)]
    names = [tar_path.name] if len(parts) == 1 else [f"{tar_path.name}.part{i}" for i in range(len(parts))]
    for name, part in zip(names, parts):
        tmp = tar_path.with_name(name + ".tmp")
        tmp.write_bytes(part)
        os.replace(tmp, tar_path.with_name(name))
    return names


def toy_sources(data: Path, into: Path, train: int, test: int) -> Path:
    """Small copies of the sources under ``data`` in ``into``: the first images of each split."""
    from distilled_registry.pipelines import sources

    for name in ("mnist", "fashion_mnist"):
        src = data / name
        if not src.is_dir():
            continue
        (into / name).mkdir(parents=True)
        for key, fname in sources.IDX_FILES.items():
            arr = sources.read_idx(src / fname)[: train if key.startswith("train") else test]
            head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
            (into / name / fname).write_bytes(gzip.compress(head + arr.astype("uint8").tobytes()))
    tar_path = data / "cifar10" / "cifar10-jpg.tar.gz"
    if tar_path.is_file():
        (into / "cifar10").mkdir(parents=True)
        kept: dict[tuple[str, str], int] = {}
        with tarfile.open(tar_path) as src, tarfile.open(into / "cifar10" / "cifar10-jpg.tar.gz", "w:gz") as dst:
            for m in src:
                parts = m.name.lstrip("./").split("/")
                if not m.isfile() or len(parts) < 4 or parts[-4] != "jpg":
                    continue
                split, cls = parts[-3], parts[-2]
                limit = (train if split == "train" else test) // 10
                if kept.get((split, cls), 0) < limit:
                    kept[(split, cls)] = kept.get((split, cls), 0) + 1
                    dst.addfile(m, io.BytesIO(src.extractfile(m).read()))
    return into


def step_kip_step(report: Report, toy: bool, out: Path) -> None:
    """Seconds per KIP step, and the fast kernel on the default device against the CPU."""
    import jax
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import kip_step

    json_path = out / ".kip_step.json"
    argv = ["kip_cifar10/ipc10", "--steps", "2" if toy else "3", "--out", str(json_path)]
    if toy:
        argv += ["--support", "10", "--targets", "20"]
    kip_step.main(argv)
    fig = json.loads(json_path.read_text())
    json_path.unlink()

    from distilled_registry.pipelines import kernels

    spec = kernels.KernelSpec("convnet", depth=3, get="ntk", impl="fast")
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    x2 = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    with jax.default_matmul_precision("highest"):
        k_dev = np.asarray(kernels.make_kernel_fn(spec, spread=False)(x1, x2))
        cpu = jax.devices("cpu")[0]
        with jax.default_device(cpu):
            k_cpu = np.asarray(kernels.make_kernel_fn(spec, spread=False)(jax.device_put(x1, cpu),
                                                                            jax.device_put(x2, cpu)))
    rel = float(np.max(np.abs(k_dev - k_cpu) / np.abs(k_cpu)))
    report.put("kip_step", {**fig, "kernel_device_vs_cpu_max_rel_diff": rel,
                            "kernel_check_device": str(jax.devices()[0].device_kind)})


def step_ls(report: Report, name: str, data: Path, out: Path, work: Path) -> None:
    from distilled_registry import catalog
    from distilled_registry.pipelines.distill import DistillConfig, distill

    e = catalog.entry(name)
    cfg = DistillConfig.from_dict(dict(e.spec))
    src_dir = data / SOURCE_FOLDERS[cfg.source]
    key = name.replace("/", "_")
    if not src_dir.is_dir():
        report.put(key, {"skipped": f"no {src_dir} (carry its files in a call of its own)"})
        return
    folder = work / key
    t = time.perf_counter()
    prov = distill(cfg, folder, str(src_dir), progress=False)
    wall = time.perf_counter() - t
    tars = pack(folder, out / f"{key}.tar")
    m = prov["metrics"]
    report.put(key, {"krr_test_accuracy": m["krr_test_accuracy"], "natural": m["natural_krr_test_accuracy"],
                     "authors": (e.paper or {}).get("krr_test_accuracy"), "wall_seconds": wall,
                     "timing": prov["timing"],
                     "source_exact": prov["source"].get("exact_copy", True), "files": tars})


def mnist_ipc1(src_dir: Path) -> list[str]:
    """The ``distill`` command line of a KIP-ConvNet MNIST ipc1 run with learned labels (the kip_mnist/ipc1 space)."""
    return [*CLI, "distill", "--source", "mnist", "--source-dir", str(src_dir), "--algorithm", "kip", "--kernel",
            "convnet", "--depth", "3", "--ipc", "1", "--learn-labels"]


def toy_start(src_dir: Path, work: Path) -> Path:
    """``--toy``: a 2-step KIP release of the toy MNIST copy to continue from (the committed one was made from
    the whole of MNIST, and ``--init-from`` refuses a start of another source fingerprint)."""
    folder = work / "toy_kip_mnist_start"
    subprocess.run(mnist_ipc1(src_dir) + ["--target-batch", "20", "--steps", "2", "--out", str(folder), "--quiet"],
                   check=True)
    return folder


def step_kip_mnist(report: Report, data: Path, out: Path, work: Path, deadline: float, toy: bool, start: Path,
                   batch: int, lr: float, minutes: float, checkpoint_every: int, eval_every: int) -> None:
    """``kip_mnist/ipc1`` continued from ``start`` at target batch ``batch`` for ``minutes``; see the docstring."""
    from distilled_registry.pipelines import checkpoint

    key = "kip_mnist_ipc1"
    src_dir = data / "mnist"
    if not src_dir.is_dir():
        report.put(key, {"skipped": f"no {src_dir} (carry the four MNIST IDX files)"})
        return
    t_start = time.perf_counter()
    if toy:
        start = toy_start(src_dir, work)
    folder, ckpt = work / key, work / f"{key}.checkpoint"
    run = mnist_ipc1(src_dir) + ["--init-from", str(start), "--target-batch", str(batch), "--lr", repr(lr),
                                 "--eval-every", str(eval_every), "--checkpoint-every", str(checkpoint_every),
                                 "--checkpoint-dir", str(ckpt), "--out", str(folder), "--quiet"]
    reserve = 20.0 if toy else 90.0  # the second process: start-up, compiling, the full test split, the files
    stop_at = min(deadline, t_start + 60 * minutes) - reserve
    head = {"start": str(start.relative_to(REPO)) if start.is_relative_to(REPO) else str(start), "target_batch": batch,
            "lr": lr, "checkpoint_every": checkpoint_every, "eval_every": eval_every,
            "command": " ".join(run[len(CLI):]) + " --steps N"}
    report.put(key, {**head, "state": "running"})
    log = (work / f"{key}.log").open("wb")
    child = subprocess.Popen(run + ["--steps", str(10 ** 6)], stdout=log, stderr=subprocess.STDOUT)
    while child.poll() is None and time.perf_counter() < stop_at:
        time.sleep(1.0)
        if toy and (checkpoint.saved_step(ckpt) or 0) >= 2 * checkpoint_every:
            break  # the toy check stops it as soon as there is something to resume
    killed = child.poll() is None
    if killed:
        child.kill()  # a checkpoint is written atomically: the last one is whole (tests/test_distributed.py)
    code = child.wait()
    stopped = "killed at the toy check's early stop" if toy else "killed at its time limit"
    head["first_process"] = stopped if killed else f"exited {code} by itself"
    steps_run = checkpoint.saved_step(ckpt)
    if steps_run is None or (not killed and code != 0):
        log.close()
        state = "no checkpoint before the time was up" if steps_run is None else "the first process failed"
        report.put(key, {**head, "state": state,
                         "log_tail": (work / f"{key}.log").read_text(errors="replace")[-2000:]})
        return
    t_resume = time.perf_counter()
    try:  # past the call's own deadline by at most a minute: what the tars hold so far must get out
        code = subprocess.run(run + ["--steps", str(steps_run), "--resume"], stdout=log, stderr=subprocess.STDOUT,
                              timeout=max(2 * reserve, deadline + 60 - t_resume)).returncode
    except subprocess.TimeoutExpired:
        code = "killed: out of time"
    t_end = time.perf_counter()
    log.close()
    if code != 0:
        report.put(key, {**head, "state": f"the resume exited {code}",
                         "log_tail": (work / f"{key}.log").read_text(errors="replace")[-2000:]})
        return
    prov = json.loads((folder / "provenance.json").read_text())
    m = prov["metrics"]
    done = {**head, "state": "done", "steps_run": steps_run, "seconds_first_process": t_resume - t_start,
            "seconds_resume": t_end - t_resume, "timing": prov["timing"],
            "krr_test_accuracy": m["krr_test_accuracy"], "krr_test_mse": m["krr_test_mse"],
            "natural_krr_test_accuracy": m["natural_krr_test_accuracy"],
            "test_subset_curve": m.get("test_subset_curve"), "files": pack(folder, out / f"{key}_gpu.tar")}
    report.put(key, done)  # the release is out before the figure that decides about it is computed
    choice = work / "choice.json"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import train_sample_accuracy

    train_sample_accuracy.main([str(start), str(folder), "--source-dir", str(src_dir), "--json", str(choice)]
                               + (["--size", "100"] if toy else []))
    report.put(key, {**done, "training_sample": json.loads(choice.read_text()),
                     "seconds_training_sample": time.perf_counter() - t_end})


def step_kip(report: Report, data: Path, out: Path, work: Path, deadline: float, toy: bool, resume: str | None,
             checkpoint_every: int, eval_every: int) -> None:
    import numpy as np

    from distilled_registry import catalog
    from distilled_registry.pipelines import checkpoint, kip, krr
    from distilled_registry.pipelines.backends import make_workers
    from distilled_registry.pipelines.distill import DistillConfig, prepare
    from distilled_registry.pipelines.distributed import TiledEngine
    from distilled_registry.pipelines.kernels import make_kernel_fn

    cfg = DistillConfig.from_dict({**catalog.entry(KIP_NAME).spec, **({"target_batch": 20, "ipc": 2} if toy else {})})
    src_dir = data / "cifar10"
    if not src_dir.is_dir():
        report.put("kip", {"skipped": f"no {src_dir}"})
        return
    prepared = prepare(cfg, str(src_dir))
    src = prepared.source
    kcfg = kip.KipConfig.of(cfg)
    state, _ = kip.init(kcfg, prepared.x_train, src.y_train, src.num_classes)
    history: list[float] = []
    ckpt = work / "kip_checkpoint"
    if resume:
        ckpt.mkdir(parents=True, exist_ok=True)
        with tarfile.open(resume) as tar:
            for m in tar.getmembers():
                if m.isfile() and "/" not in m.name and not m.name.startswith("."):
                    (ckpt / m.name).write_bytes(tar.extractfile(m).read())
        saved = checkpoint.load(ckpt, state, cfg.to_dict())
        if saved is not None:
            state, history = saved
    kernel_fn = make_kernel_fn(cfg.kernel)
    pool = make_workers(cfg.kernel.to_dict(), "local", 1, None)
    curve: list[dict] = []
    step_times: list[float] = []
    marks = {"last": time.perf_counter(), "state": state}

    def evaluate(s) -> None:
        p = {**s.fixed, **s.learned}
        acc = krr.evaluate(kernel_fn, np.asarray(p["images"]), np.asarray(p["labels"]), prepared.x_test,
                           src.y_test, reg=cfg.reg, block=cfg.eval_block)["accuracy"]
        curve.append({"step": s.step, "krr_test_accuracy": acc})

    def save(s, losses) -> None:
        checkpoint.save(ckpt, s, cfg.to_dict(), losses)
        pack(ckpt, out / "kip_cifar10_ipc10.ckpt.tar")

    def hook(s, losses) -> None:  # after every step (kip.run's own loop: targets, Adam, divergence check)
        now = time.perf_counter()
        step_times.append(now - marks["last"])
        marks.update(last=now, state=s, losses=list(losses))
        if s.step % checkpoint_every == 0:
            save(s, losses)
        if s.step % eval_every == 0:
            evaluate(s)
        report.put("kip", {**report.doc["steps"]["kip"], "steps_done": s.step, "losses_tail": losses[-5:],
                           "step_seconds": step_times, "curve": curve})
        if (toy and s.step >= 4) or now > deadline - (2 * float(np.median(step_times)) + 30):
            raise _OutOfTime

    evaluate(state)
    report.put("kip", {"name": KIP_NAME, "resumed_from": state.step, "curve": curve, "step_seconds": step_times,
                       "authors_published_set_on_jpeg_test": 0.7004, "real_images_on_jpeg_test": 0.2845})
    try:
        state, history = kip.run(kcfg, kernel_fn, prepared.x_train, src.y_train, src.num_classes,
                                 engine=TiledEngine(pool, cfg.reg, cfg.tile), state=state, hook=hook, hook_every=1,
                                 progress=False, losses=history)
    except _OutOfTime:
        state, history = marks["state"], marks.get("losses", history)
    except kip.KipDiverged as e:
        report.put("kip", {**report.doc["steps"]["kip"], "diverged": str(e)})
        state, history = marks["state"], marks.get("losses", history)
    finally:
        pool.close()
    save(state, history)
    if not curve or curve[-1]["step"] != state.step:
        evaluate(state)
    report.put("kip", {**report.doc["steps"]["kip"], "steps_done": state.step, "curve": curve})


class _OutOfTime(Exception):
    """Raised from the KIP hook when the next step would not end before the deadline."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder with mnist/, fashion_mnist/, cifar10/ (local source files)")
    p.add_argument("--out", required=True, help="folder for gpu_run.json and the tars ($OUT on the device)")
    p.add_argument("--minutes", type=float, default=9.0, help="stop starting work after this many minutes")
    p.add_argument("--only", nargs="+", choices=STEPS, default=list(STEPS),
                   help="steps to run (default: all, in priority order)")
    p.add_argument("--resume", default=None, help="a kip_cifar10_ipc10.ckpt.tar from an earlier call")
    p.add_argument("--checkpoint-every", type=int, default=10, help="KIP steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=20, help="KIP steps between KRR test evaluations")
    p.add_argument("--mnist-start", default=str(MNIST_START),
                   help="the kip_mnist/ipc1 release the MNIST continuation starts from (default: ours, committed)")
    p.add_argument("--mnist-batch", type=int, default=5000, help="its target batch (default 5000, the authors')")
    p.add_argument("--mnist-lr", type=float, default=0.0025, help="its Adam learning rate (default 0.0025)")
    p.add_argument("--mnist-minutes", type=float, default=4.0,
                   help="minutes for the MNIST continuation, its final evaluation and files included (default 4)")
    p.add_argument("--toy", action="store_true", help="small copies of the sources and few steps (a CPU check)")
    a = p.parse_args(argv)
    start = time.perf_counter()
    deadline = start + 60 * a.minutes
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu_run."))
    data = Path(a.data)
    if a.toy:
        data = toy_sources(data, work / "data", train=200, test=100)

    # jax takes 75% of a GPU's memory at its first use unless told not to; the MNIST step's child processes
    # share the GPU with this one, so every process here allocates what it uses
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from distilled_registry.pipelines import devices

    devices.one_device_per_core()
    import jax

    dev = jax.devices()[0]
    report = Report(out, {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "toy": a.toy,
                          "device": f"{dev.platform}: {dev.device_kind}", "device_count": jax.device_count(),
                          "jax": jax.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
                          "precision": "highest (full float32: no TF32)"})
    try:
        if "kip_step" in a.only:
            step_kip_step(report, a.toy, out)
        if "kip_mnist_ipc1" in a.only and time.perf_counter() < deadline:
            step_kip_mnist(report, data, out, work, deadline, a.toy, Path(a.mnist_start),
                           20 if a.toy else a.mnist_batch, a.mnist_lr, a.mnist_minutes, 2 if a.toy else 10,
                           2 if a.toy else 25)
        if "ls" in a.only:
            for name in LS_NAMES:
                if time.perf_counter() > deadline:
                    report.put(name.replace("/", "_"), {"skipped": "out of time"})
                    continue
                step_ls(report, name, data, out, work)
        if "kip" in a.only and time.perf_counter() < deadline:
            step_kip(report, data, out, work, deadline, a.toy, a.resume, a.checkpoint_every, a.eval_every)
    finally:
        report.doc["wall_seconds"] = time.perf_counter() - start
        report.save()
        shutil.rmtree(work, ignore_errors=True)  # this run's own temporary folder
    return 0


if __name__ == "__main__":
    sys.exit(main())
