"""``plan``: the wall time of the run a user will start, part by part (:mod:`distilled_registry.pipelines.plan`).

What is planned is either a catalog config's spec with the run's own settings (``plan NAME --steps ...
--target-batch ... --tile ... --backend ... --workers ...``) or a whole command line after ``--``
(``plan -- distill --source mnist ...``, ``plan -- regenerate NAME ...``, ``plan -- demo``), read by
that command's own parser, so the plan is of exactly the run that line starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from .. import catalog, names, source_facts
from ..errors import UsageError
from .arguments import add_backend, add_json, add_source_dir, add_tile, source_dir
from .option_types import option

RUN_COMMANDS = ("distill", "regenerate", "demo")
_OVERRIDES = {"steps": "--steps", "target_batch": "--target-batch", "ipc": "--ipc", "lr": "--lr",
              "impl": "--impl", "tile": "--tile"}
_RUN_OPTIONS = {"backend": ("--backend", "local"), "workers": ("--workers", 1), "eval_every": ("--eval-every", 0),
                "eval_subset": ("--eval-subset", 1000), "checkpoint_every": ("--checkpoint-every", 0),
                "source_dir": ("--source-dir", None), "ray_address": ("--ray-address", None)}


def _check(a: argparse.Namespace) -> None:
    """The plan's own options, before any work (UsageError naming the option)."""
    if a.budget is not None and not 1 <= a.budget <= 3600:
        raise UsageError(f"--budget {a.budget:g} is out of range 1..3600 seconds of kernel timing")
    if a.eval_every < 0 or a.checkpoint_every < 0:
        raise UsageError("--eval-every and --checkpoint-every are steps, >= 0 (0: never)")
    if not 1 <= a.eval_subset <= 10 ** 7:
        raise UsageError(f"--eval-subset {a.eval_subset} is out of range 1..10000000 test images")


def _from_command_line(a: argparse.Namespace) -> tuple[str, list]:
    """``(label, [(Run, source_info)])`` of the command line after ``--``, read by that command's parser."""
    from ..pipelines.kernels import KernelSpec
    from ..pipelines.plan import Run
    from . import build_parser
    from .computing import _backend_kwargs, _config, _config_from_args

    given = [opt for key, opt in _OVERRIDES.items() if getattr(a, key) is not None] + \
        [opt for key, (opt, default) in _RUN_OPTIONS.items() if getattr(a, key) != default]
    if given:
        raise UsageError(f"{', '.join(given)}: with a command line after --, give the run's settings in it "
                         f"(`plan -- {a.name} ... {given[0]} ...`)")
    argv = [a.name, *a.command_args]
    if a.name == "distill" and not any(x == "--out" or x.startswith("--out=") for x in argv):
        argv += ["--out", "planned-release"]  # distill requires it; a plan writes nothing there
    ns = build_parser().parse_args(argv)
    label = " ".join(argv)
    if a.name == "demo":
        from ..pipelines.distill import DistillConfig

        if ns.steps < 0:
            raise UsageError(f"--steps {ns.steps} is out of range: KIP steps are >= 0")
        info = source_facts.get("digits").to_dict()
        return label, [(Run(DistillConfig(source="digits", algorithm=alg, kernel=KernelSpec("fc", depth=1), ipc=ipc,
                                          steps=ns.steps, learn_labels=True, seed=0)), info)
                       for ipc in (1, 10) for alg in ("kip", "ls")]
    if a.name == "distill":
        cfg = _config_from_args(ns)
    else:
        e = catalog.entry(names.parse(ns.name))
        if e.spec is None:
            raise catalog.CatalogError(f"{e.name} is a published file with no spec to run or plan")
        cfg, _ = _config(e.spec, ns, f"the catalog spec of {e.name}")  # (config, its --set overrides)
    _backend_kwargs(ns)
    run = Run(cfg, ns.backend, ns.workers, getattr(ns, "eval_every", 0), getattr(ns, "eval_subset", 1000),
              getattr(ns, "checkpoint_every", 0), source_dir(ns.source_dir, cfg.source))
    return label, [(run, source_facts.get(cfg.source).to_dict())]


def _from_name(a: argparse.Namespace) -> tuple[str, list]:
    """``(label, [(Run, source_info)])`` of catalog config ``a.name``'s spec with the plan's run settings."""
    from ..pipelines.distill import ConfigError, DistillConfig, check_workers
    from ..pipelines.kernels import KernelSpec
    from ..pipelines.plan import Run

    if a.name is None:
        raise UsageError("give a catalog NAME (e.g. kip_cifar10/ipc10) or the command you will run after --: "
                         "`plan -- distill --source mnist ...`")
    if a.command_args:
        raise UsageError(f"unexpected arguments {' '.join(a.command_args)!r}: a command line to plan goes after --, "
                         f"starting with {', '.join(RUN_COMMANDS)}")
    e = catalog.entry(a.name)
    if e.spec is None:
        raise catalog.CatalogError(f"{e.name} is a published file with no spec to plan")
    cfg = DistillConfig.from_dict(e.spec)
    over = {"steps": a.steps, "target_batch": a.target_batch, "ipc": a.ipc, "learning_rate": a.lr, "tile": a.tile}
    try:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in over.items() if v is not None})
        if a.impl:
            cfg = dataclasses.replace(cfg, kernel=KernelSpec(**{**cfg.kernel.to_dict(), "impl": a.impl}))
    except ValueError as err:
        raise ConfigError(str(err)) from err
    cfg.validate()
    check_workers(a.backend, a.workers)
    run = Run(cfg, a.backend, a.workers, a.eval_every, a.eval_subset, a.checkpoint_every,
              source_dir(a.source_dir, cfg.source))
    return e.name, [(run, e.source_info)]


def make_plan(a: argparse.Namespace) -> dict:
    """The plan of ``a`` (the parsed ``plan`` command line) as a dict (what ``--json`` prints)."""
    _check(a)
    label, runs = _from_command_line(a) if a.name in RUN_COMMANDS else _from_name(a)
    for run, info in runs:
        try:
            run.config.kernel.check_images((1, *info["image_shape"]))
        except ValueError as err:
            from ..pipelines.distill import ConfigError

            raise ConfigError(str(err)) from err
    import jax

    from ..pipelines import distill, plan

    budget = a.budget or plan.DEFAULT_BUDGET_S
    t0 = time.perf_counter()
    startup = plan.startup_seconds(any(run.config.kernel.impl == "nt" for run, _ in runs))
    timers: dict = {}
    planned = []
    for run, info in runs:
        cfg = run.config
        data = prep = None
        if cfg.source == "digits" or run.source_dir:
            t = time.perf_counter()
            data = distill.prepare(cfg, run.source_dir)
            prep = time.perf_counter() - t
            info = {**info, "train_size": len(data.x_train), "test_size": len(data.x_test)}
        key = (cfg.kernel, tuple(info["image_shape"]))
        if key not in timers:
            timers[key] = plan.TableTimer(a.device, *key, budget) if a.device else plan.KernelTimer(*key, budget)
        with jax.default_matmul_precision(distill.MATMUL_PRECISION):  # as the run computes
            planned.append(plan.plan_run(run, info, timers[key], data, prep))
    total = startup + sum(p["seconds"] for p in planned)
    dev = jax.devices()
    out = {"plan": label, "device": a.device or "this machine",
           "table_row": _table_row(a.device), "jax_devices": f"{len(dev)} x {dev[0].platform} ({dev[0].device_kind})",
           "startup": plan.Part("start-up", startup, "measured",
                                "a fresh python importing the CLI, jax, optax and the pipelines "
                                "(and neural-tangents for an nt kernel), timed").to_dict(),
           "seconds": total, "hours": total / 3600,
           "measuring_seconds": time.perf_counter() - t0, "kernel_timing_seconds": sum(getattr(t, "spent", 0.0)
                                                                                       for t in timers.values()),
           "budget_seconds": budget, "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
           "cpus": os.cpu_count(), "runs": planned}
    if len(planned) == 1:
        out = {**planned[0], **out, "seconds": total, "hours": total / 3600}
    return out


def _table_row(device: str | None) -> dict | None:
    if device is None:
        return None
    from ..pipelines import device_costs

    return device_costs.row(device)


def _dur(seconds: float) -> str:
    """A duration in the unit that reads best: ``3.4 ms``, ``5.6 s``, ``7.8 min``, ``9.1 h``."""
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    h = seconds / 3600
    return f"{h:,.1f} h" + (f" ({h / 24:,.1f} days)" if h >= 48 else "")


def print_plan(p: dict) -> None:
    """The plan as text: what runs, each part with its time and whether it was measured, the total."""
    print(f"plan {p['plan']}: on {p['device']}" + (f" (jax: {p['jax_devices']})" if p["device"] == "this machine"
                                                   else ""))
    if p["table_row"]:
        r = p["table_row"]
        print(f"  device table row: {'measured' if r['measured'] else 'NOT measured'}, {r['when']}, {r['where']}; "
              f"{r['how']}")
    st = p["startup"]
    print(f"  {st['name']}: {_dur(st['seconds'])} [{st['basis']}] {st['detail']}")
    for r in p["runs"]:
        k = r["kernel"]
        h, w, c = r["image_shape"]
        kip = r["algorithm"] == "kip"
        print(f"  {r['algorithm']}, {k['architecture']} depth {k['depth']} {k['get'].upper()} (impl {k['impl']}), "
              f"images {h}x{w}x{c}, support n={r['support_size']}, "
              + (f"target batch m={r['target_size']}, {r['steps']:,} steps" if kip
                 else f"training split m={r['target_size']:,}")
              + f", --tile {r['tile']}, backend {r['backend']} ({r['workers']} worker(s))")
        what = "per step" if kip else "in the pass"
        print(f"    kernel entries {what}: {r['entries']:,} = K_ss upper triangle {r['k_ss_upper']:,} + K_ts "
              f"{r['k_ts']:,}; tiles {what}: {r['tiles']:,} = K_ss {r['tiles_ss']:,} ({r['block']}x{r['block']}) + "
              f"K_ts {r['tiles_ts']:,} ({r['target_block']}x{r['block']})")
        for part in r["parts"]:
            print(f"    {part['name']}: {_dur(part['seconds'])} [{part['basis']}] {part['detail']}")
        if kip:
            print(f"    a step: {_dur(r['step_seconds'])}")
    print(f"  total: {_dur(p['seconds'])}")
    load = p["load_average"]
    print(f"  planned in {p['measuring_seconds']:.0f} s ({p['kernel_timing_seconds']:.0f} s timing kernels, budget "
          f"{p['budget_seconds']:g} s)" + (f", load average {load[0]:.1f} on {p['cpus']} CPUs" if load else "")
          + "; [assumed] parts are not measured; a run on a busier or idler machine takes longer or shorter")


def add(sub) -> None:
    """Add ``plan`` to the CLI's subparsers (its handler, :func:`cmd_plan`, is this module's)."""
    from ..pipelines.limits import MAX_EVAL_SUBSET, MAX_IPC, MAX_STEPS, MAX_TARGET_BATCH  # plain numbers: no JAX

    p = sub.add_parser("plan", help="the wall time a run will take, each part timed here (or from the device "
                                    "table) and said which: NAME's spec with a run's settings, or a whole command "
                                    "line after --")
    p.add_argument("name", metavar="NAME", nargs="?",
                   help="a catalog config with a spec, e.g. kip_cifar10/ipc10; or, after --, the command you will run: "
                        "`plan -- distill --source mnist ...`, `plan -- regenerate NAME ...`, `plan -- demo`")
    p.add_argument("command_args", metavar="ARG", nargs="*",
                   help="after `-- distill`, `-- regenerate` or `-- demo`: that command's own arguments")
    p.add_argument("--steps", type=option("count", "--steps", low=0, high=MAX_STEPS), default=None,
                   help=f"KIP steps, 0..{MAX_STEPS} (default: the spec's)")
    p.add_argument("--target-batch", type=option("count", "--target-batch", high=MAX_TARGET_BATCH), default=None,
                   help=f"KIP target batch, 1..{MAX_TARGET_BATCH} (default: the spec's)")
    p.add_argument("--ipc", type=option("count", "--ipc", high=MAX_IPC), default=None,
                   help=f"images per class, 1..{MAX_IPC} (default: the spec's)")
    p.add_argument("--lr", type=option("real", "--lr", above=0), default=None,
                   help="KIP learning rate (> 0; does not change the time)")
    p.add_argument("--impl", choices=["nt", "fast"], default=None, help="kernel implementation (default: the spec's)")
    add_tile(p, "the spec's, else {DEFAULT_TILE}, as the run")
    add_backend(p)
    p.add_argument("--eval-every", type=option("count", "--eval-every", low=0, high=MAX_STEPS), default=0,
                   help="KIP: accuracy-curve points every N steps, as the run's")
    p.add_argument("--eval-subset", type=option("count", "--eval-subset", high=MAX_EVAL_SUBSET), default=1000,
                   help="test images of each curve point, as the run's")
    p.add_argument("--checkpoint-every", type=option("count", "--checkpoint-every", low=0, high=MAX_STEPS),
                   default=0, help="KIP: checkpoint every N steps, as the run's")
    add_source_dir(p, "times the loading and the release files too when given")
    p.add_argument("--device", choices=["h100", "h200", "cpu"], default=None,
                   help="price the kernel from the repo's table of per-entry costs measured on that device "
                        "(pipelines/device_costs.py) instead of timing it here")
    p.add_argument("--budget", type=option("real", "--budget", low=1, high=3600), default=None,
                   help="seconds of kernel timing, 1..3600 (default 30); dearer shapes are extrapolated from two "
                        "smaller timed ones")
    add_json(p)
    p.set_defaults(func=cmd_plan)


def cmd_plan(a: argparse.Namespace) -> int:
    p = make_plan(a)
    if a.json:
        print(json.dumps(p, indent=2))
    else:
        print_plan(p)
    return 0
