"""KIP checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the step, the learned and fixed parameters and the Adam state (all float
arrays, saved bit for bit) and the run's config. The random state needs no saving: target
batches are a pure function of ``(seed, step)`` (:func:`kip.target_indices`). Files are written
to a temporary name and renamed, so a run killed at any moment leaves either the previous
checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jax
import numpy as np

from distilled_registry import atomic, output_folder
from distilled_registry.distill_config import drop_steps
from distilled_registry.errors import UserError
from distilled_registry.npz import npz_bytes

from .devices import HOST_DEVICES_FLAG
from .kip import KipState

FILE = "kip_state.npz"
MARKER = "checkpoint"  # output_folder's marker: .distilled-registry-checkpoint
FORMAT = "distilled_registry.kip_checkpoint/1"


class CheckpointError(UserError):
    """A checkpoint that cannot be resumed: damaged, of another run, or of another format."""


def save(directory: str | os.PathLike, state: KipState, config: dict, losses: list[float] | None = None,
         curve: list[tuple[int, float]] | None = None, seconds: float | None = None) -> Path:
    """Write ``state``, the losses so far, the accuracy-curve points ``(step, accuracy)`` measured so far,
    ``config`` (to refuse resuming another run) and ``seconds``, the run's time so far over every process that
    ran it (None: not known, as for a run resumed from a checkpoint that did not record it), atomically."""
    d = Path(directory)
    if not os.path.lexists(d):  # the folder appears with its marker (rule A), in one rename: never without it
        with atomic.staged_dir(d) as tmp:
            output_folder.mark(tmp, MARKER, [FILE])
            try:
                atomic.publish_dir(tmp, d)
            except FileExistsError:  # made meanwhile: used as the caller checked it
                shutil.rmtree(tmp, ignore_errors=True)
    leaves = jax.tree_util.tree_leaves((state.learned, state.fixed, state.opt_state))
    arrays = {f"leaf{i:04d}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays["losses"] = np.asarray(losses if losses is not None else [], np.float64)
    meta = {"format": FORMAT, "step": int(state.step), "config": config, "leaves": len(leaves), "machine": machine()}
    if curve:
        meta["curve"] = [[int(s), float(a)] for s, a in curve]
    if seconds is not None:
        meta["seconds"] = round(float(seconds), 3)
    arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    return atomic.write_bytes(d / FILE, npz_bytes(arrays))


def load(directory: str | os.PathLike, template: KipState, config: dict,
         other_machine: bool = False) -> tuple[KipState, list[float]] | None:
    """``(state, losses so far)`` saved in ``directory``, shaped like ``template``; None if there is none.

    Rule F, resume is safe across machines: a checkpoint written on other devices (:func:`machine`: another
    platform, device kind or count, processor architecture or instruction set) is refused unless
    ``other_machine`` (``--resume-on-other-devices``): KIP's support-set gradient sums the devices' parts
    (``devices.over_devices``), so the same run resumed under another device count ends in other bytes than
    any uninterrupted run (measured: digits, 1 and 2 host devices; tests/hostile/test_resume_machines.py).

    Raises:
      CheckpointError: the file is damaged (truncated, garbage), belongs to a run with another config,
        was written on other devices, or does not fit ``template``; the message names the file and what to do.
    """
    f = Path(directory) / FILE
    if not f.is_file():
        return None
    treedef = jax.tree_util.tree_structure((template.learned, template.fixed, template.opt_state))
    want = jax.tree_util.tree_leaves((template.learned, template.fixed, template.opt_state))
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta_json"]).decode())
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError(f"{str(f)!r} is not a KIP checkpoint of this version "
                                      f"(format {meta.get('format') if isinstance(meta, dict) else None!r}); "
                                      "remove it to start afresh")
            # ``steps`` may differ: the step count decides only where the run stops (target batches a function
            # of (seed, step)), so a run can be extended or ended at a checkpoint; and the learning-rate drop
            # (``lr_drop_at``, ``lr_drop_scale``) may differ where it changes no step already taken
            step = int(meta["step"])
            if _without_free(meta["config"]) != _without_free(config):
                diff = ", ".join(f"{k}: checkpoint {meta['config'].get(k)!r}, this run {config.get(k)!r}"
                                 for k in sorted(set(meta["config"]) | set(config))
                                 if k not in FREE and meta["config"].get(k) != config.get(k))
                raise CheckpointError(f"{str(f)!r} belongs to a run with a different config ({diff}); "
                                      "resume with the same arguments, or remove the checkpoint folder")
            if _drop_before(meta["config"], step) != _drop_before(config, step):
                raise CheckpointError(
                    f"{str(f)!r} is at step {step} and its steps so far ran with the learning-rate drop "
                    f"{_drop_text(_drop_before(meta['config'], step))}; this run's drop "
                    f"{_drop_text(_drop_before(config, step))} would change them: keep the checkpoint's drops before "
                    f"step {step} and add new ones at step {step} or later")
            if not other_machine:
                check_machine(f, meta.get("machine"))
            leaves = [z[f"leaf{i:04d}"] for i in range(int(meta["leaves"]))]
            losses = [float(x) for x in z["losses"]] if "losses" in z else []
            step = int(meta["step"])
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, JSON, key and format errors: a truncated or garbage file
        raise CheckpointError(f"cannot read the checkpoint {str(f)!r} ({type(e).__name__}: {e}); it is damaged: "
                              "remove it to start afresh") from e
    if len(leaves) != len(want) or any(a.size != np.size(b) for a, b in zip(leaves, want)) \
            or not 0 <= step or len(losses) not in (0, step):
        raise CheckpointError(f"{str(f)!r} does not fit this run (step {step}, {len(leaves)} arrays); it is damaged: "
                              "remove it to start afresh")
    if step > int(config.get("steps", step)):
        raise CheckpointError(f"{str(f)!r} is at step {step}, past this run's --steps {config.get('steps')}; give "
                              f"--steps {step} or more to resume it")
    if not all(np.isfinite(a).all() for a in leaves):
        raise CheckpointError(f"{str(f)!r} holds NaN or infinite values; remove it to start afresh")
    # each leaf in the template's shape: checkpoints written before npz_bytes kept 0-d arrays saved
    # Adam's step count as shape (1,), which broadcasts to the same values but compiles another program
    leaves = [np.reshape(a, np.shape(b)) for a, b in zip(leaves, want)]
    learned, fixed, opt_state = jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
    return KipState(step, learned, fixed, opt_state), losses


# What decides a KIP step's rounding: the devices the kernel is split over and the code XLA generates for them.
MACHINE_KEYS = ("platform", "device_kind", "device_count", "matmul_precision")


def machine() -> dict:
    """The devices this process computes on, as a checkpoint records them: ``platform``, ``device_kind``,
    ``device_count``, ``matmul_precision`` and the processor's ``machine`` and instruction set ``isa``."""
    from distilled_registry import environment

    d = environment.device()
    return {**{k: d[k] for k in MACHINE_KEYS}, "machine": d["processor"]["machine"],
            "isa": sorted(d["processor"]["isa"])}


def _meta(directory: str | os.PathLike) -> dict:
    """The checkpoint's ``meta_json`` (step, config, machine, ...), without loading its arrays."""
    with np.load(Path(directory) / FILE, allow_pickle=False) as z:
        return json.loads(bytes(z["meta_json"]).decode())


def saved_step(directory: str | os.PathLike) -> int | None:
    """The step of the checkpoint in ``directory``, None when it holds none (a process that checkpoints a run and
    stops it by the clock resumes it with ``--steps`` this step: ``benchmarks/gpu_run.py``)."""
    return int(_meta(directory)["step"]) if (Path(directory) / FILE).is_file() else None


def saved_machine(directory: str | os.PathLike) -> dict | None:
    """The machine record of the checkpoint in ``directory`` (None for one of an older version; call after
    :func:`load` has accepted the file)."""
    saved = _meta(directory).get("machine")
    return saved if isinstance(saved, dict) else None


def check_machine(f: Path, saved) -> None:
    """CheckpointError when the checkpoint ``f`` was written on other devices than this process has (rule F).

    A checkpoint of an older version (no ``machine`` in its meta) is resumed as before.
    """
    if saved is None:
        return
    here = machine()
    if not isinstance(saved, dict):
        raise CheckpointError(f"{str(f)!r} has a damaged machine record; remove it to start afresh")
    diff = [k for k in here if saved.get(k) != here[k]]
    if not diff:
        return
    what = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, here {here[k]!r}" for k in diff)
    how = (f"resume where it was written, or with XLA_FLAGS={HOST_DEVICES_FLAG}={saved.get('device_count')} on a "
           "CPU, " if "device_count" in diff and saved.get("platform") == here["platform"] == "cpu" else
           "resume on the machine that wrote it, ")
    raise CheckpointError(f"{str(f)!r} was written on other devices ({what}): KIP's gradient sums the devices' parts, "
                          f"so resuming here would end in a result no uninterrupted run gives; {how}or add "
                          "--resume-on-other-devices to continue anyway, or remove it to start afresh")


# config fields a resumed run may change: where it stops, a learning-rate drop not yet reached, and the label
# solve after the last step (--ls-finish, with its ridge and targets): none of them acts on a step already taken
FREE = ("steps", "lr_drop_at", "lr_drop_scale", "ls_finish", "ls_reg", "ls_targets")


def _without_free(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in FREE} if isinstance(config, dict) else config


def _drop_before(config: dict, step: int) -> tuple | None:
    """``(steps, lr_drop_scale)`` of the learning-rate drops of ``config`` that act on a step before ``step``
    (None when none does)."""
    at = drop_steps(config.get("lr_drop_at")) if isinstance(config, dict) else ()
    taken = tuple(s for s in at if s < step)
    return (taken, config.get("lr_drop_scale")) if taken else None


def _drop_text(drop: tuple | None) -> str:
    return "none" if drop is None else f"x{drop[1]} at step {', '.join(map(str, drop[0]))}"


def saved_seconds(directory: str | os.PathLike) -> float | None:
    """The run's time up to the checkpoint in ``directory`` over every process that ran it (None when the
    checkpoint did not record it; call after :func:`load` has accepted the file)."""
    seconds = _meta(directory).get("seconds")
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < float("inf")
    return float(seconds) if ok else None


def load_curve(directory: str | os.PathLike) -> list[tuple[int, float]]:
    """The accuracy-curve points saved with the checkpoint in ``directory`` (``[]`` if none; call after
    :func:`load` has accepted the file)."""
    f = Path(directory) / FILE
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta_json"]).decode())
        points = [(int(s), float(a)) for s, a in meta.get("curve", [])]
    except Exception as e:  # noqa: BLE001 - a file load() accepted; damage here is damage all the same
        raise CheckpointError(f"cannot read the accuracy curve of {str(f)!r} ({type(e).__name__}: {e}); "
                              "remove it to start afresh") from e
    if not all(0 <= s <= int(meta["step"]) and 0.0 <= a <= 1.0 for s, a in points):
        raise CheckpointError(f"{str(f)!r} holds accuracy-curve points out of range; remove it to start afresh")
    return points


def adopt(directory: str | os.PathLike) -> bool:
    """Mark a checkpoint folder an older version made (before folders carried markers); True when marked.

    Such a folder holds exactly one plain file, ``kip_state.npz``, that reads as a checkpoint of this
    format: it is a checkpoint folder ``distill`` made, so it gets its marker (rule A,
    :func:`output_folder.claim`) and may be resumed. Anything else is left as it is (and then refused).
    """
    d = Path(directory)
    f = d / FILE
    if d.is_symlink() or not d.is_dir() or os.listdir(d) != [FILE] or f.is_symlink() or not f.is_file():
        return False
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta_json"]).decode())
    except Exception:  # noqa: BLE001 - not a checkpoint: not ours to adopt
        return False
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return False
    output_folder.mark(d, MARKER, [FILE])
    return True


def remove(directory: str | os.PathLike) -> None:
    """Remove the checkpoint file and marker this module wrote, the hidden ``.kip_state.npz.*.tmp`` a save killed
    mid-write leaves (:func:`atomic.write_bytes`' name for this file), and ``directory`` only if that leaves it
    empty."""
    d = Path(directory)
    (d / FILE).unlink(missing_ok=True)
    for tmp in d.glob(f".{FILE}.*.tmp"):  # a kill between mkstemp and os.replace: ours, by its name
        if tmp.is_file() and not tmp.is_symlink():
            tmp.unlink(missing_ok=True)
    (d / output_folder.marker_name(MARKER)).unlink(missing_ok=True)
    try:
        d.rmdir()
    except OSError:
        pass  # not empty (the user's own files, or another run's) or already gone: left as it is
