"""The bounds of a run's options, in one place: checked before any work, and stated by ``--help``.

Plain numbers, in the core: the run's config (:mod:`.distill_config`) checks them, the command line states
them in ``--help``, and ``pipelines.limits`` re-exports them for the pipelines.

- ``MAX_TILE``: rows per kernel tile (``--tile``, ``plan --tile``, ``plan --measure-tile``). One tile's
  vjp holds its ``tile x tile`` kernel entries and every intermediate of the kernel recursion for
  them (for a ConvNet, per entry, a covariance per pixel pair), so memory grows with ``tile**2``.
  4096 rows (16.8 M entries) is far past what a step needs (the default is 128) and refuses the
  typing slips (an extra zero or three) that would only end in an out-of-memory error; inside the
  bound a ConvNet tile can still outgrow memory, which the CLI reports in one line (exit 1).
- ``MAX_WORKERS``: Ray actors (``--workers``), and the workers ``plan`` divides a step between.
- ``MAX_SEED``: seeds feed numpy's generators, which take ``0..2**32-1``.
- ``MAX_DEPTH``: the kernel's depth (``--depth``): hidden layers of ``fc``, pooling blocks of the
  ConvNets. A ConvNet of depth ``d`` pools ``d`` times by 2, so its images need sides of at least
  ``2**d`` (``KernelSpec.check_images``): 3 for digits (8x8), 4 for MNIST (28x28), 5 for CIFAR (32x32).
"""

MAX_TILE = 4096
# Rows per kernel tile unless a config says otherwise, for every backend: the tile decides the
# rounding, so one default keeps `--backend` from changing a release on its own.
DEFAULT_TILE = 128
MAX_WORKERS = 4096
MAX_SEED = 2 ** 32 - 1
MAX_DEPTH = 32
# Counts a user gives, bounded where they enter (distilled_registry.user_values): past these a value is a
# typing slip that would only run for weeks or exhaust memory, refused in one line before any work.
MAX_STEPS = 10 ** 6           # KIP steps, transfer SGD steps, --checkpoint-every, --eval-every
MAX_IPC = 10 ** 5             # images per class (the source's smallest class bounds it again, once loaded)
MAX_TARGET_BATCH = 10 ** 7    # KIP target batch
MAX_EVAL_SUBSET = 10 ** 7     # --eval-subset test images
MAX_TRANSFER_SEEDS = 1000     # evaluate --seeds
MAX_WIDTH = 2 ** 16           # evaluate --width: hidden units or channels
MAX_LR_DROPS = 64            # steps of --lr-drop-at
MAX_SIDE = 4096               # pixels of a user source's image (or --image-size): larger is refused before decoding
