"""The preprocessing a release's images live in, as numbers a user can apply to new images.

Released images are in the preprocessed space, so every release carries ``transform.npz``;
``Transform.load(path).apply(x)`` maps raw test images (NHWC, scaled to [0, 1] like the source
loader scales them) into that space. numpy only: reading a release never needs JAX.

The map, for an image ``x`` of shape (H, W, C) (Nguyen et al. 2021, as the KIP reference code does it):

1. per-channel standardisation: ``x = (x - mean[c]) / std[c]``;
2. ZCA (optional): flatten to ``d = H*W*C``, remove the image's own mean and divide by its norm
   (``x = (x - mean(x)) / ||x - mean(x)||``), then ``x = x @ W`` with the whitening matrix
   ``W = U diag((s + lambda)^-1/2) U^T`` fitted on the training split (``pipelines.preprocess``).

``apply`` refuses (:class:`TransformError`, exit 1 in the CLI) what would silently give wrong
numbers: images of another shape than the fitted ``(H, W, C)``, integer pixels, values clearly
outside [0, 1], NaN. ``load`` names the file when it is not a valid transform file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import UserError
from .npz import npz_bytes

FORMAT = "distilled_registry.transform/1"
# Raw pixels scaled to [0, 1] by the source loader; a little slack for resampling or JPEG noise.
# Anything beyond is unscaled (uint8 0..255) or already transformed input.
INPUT_RANGE = (-0.5, 1.5)


class TransformError(UserError):
    """Images that do not fit a transform (shape, dtype, scale, NaN), or a transform file that cannot be read."""


def non_finite(x: np.ndarray) -> str | None:
    """``"3 non-finite value(s), the first NaN at index (0, 1, 2, 0)"`` for a float array ``x``; None if all finite."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{int(bad.sum())} non-finite value(s), the first {'NaN' if np.isnan(x[first]) else 'infinite'} "
            f"at index {first}")


@dataclasses.dataclass
class Transform:
    """Per-channel standardisation, then optional ZCA whitening.

    Attributes:
      mean, std: (C,) float32 per-channel statistics of the training split.
      zca: (d, d) float32 whitening matrix, ``d = H*W*C``, or None when ZCA is off.
      params: how it was fitted (e.g. ``{"zca_reg": 0.1, "fitted_on": <source fingerprint>}``).
      image_shape: ``(H, W, C)`` of the images it was fitted on; None in files written before it
        was recorded (then :meth:`fitted_shape` infers what the arrays allow).
    """

    mean: np.ndarray
    std: np.ndarray
    zca: np.ndarray | None = None
    params: dict = dataclasses.field(default_factory=dict)
    image_shape: tuple[int, int, int] | None = None

    def fitted_shape(self) -> tuple[int | None, int | None, int]:
        """``(H, W, C)`` the transform takes: the recorded shape, else inferred (None where unknown).

        Without a recorded shape, ``C`` is the length of ``mean``; with a ZCA matrix of size
        ``d = H*W*C`` and ``d / C`` a perfect square, the images are taken to be square
        (every source here is), ``H = W = sqrt(d / C)``.
        """
        if self.image_shape is not None:
            return tuple(self.image_shape)  # type: ignore[return-value]
        c = len(self.mean)
        if self.zca is not None and self.zca.shape[0] % c == 0:
            side = math.isqrt(self.zca.shape[0] // c)
            if side * side * c == self.zca.shape[0]:
                return (side, side, c)
        return (None, None, c)

    def check_image_shape(self, shape: tuple[int, ...]) -> None:
        """TransformError unless one image of ``shape`` (H, W, C) is what this transform takes."""
        shape = tuple(int(v) for v in shape)
        want = self.fitted_shape()
        c = want[-1]
        if len(shape) != 3 or any(w is not None and w != g for w, g in zip(want, shape)):
            raise TransformError(f"this transform was fitted on {self._shape_text()} images ({c} channel"
                                 f"{'s' if c != 1 else ''}); got images of {shape}: give images of the release's "
                                 "source, at its size")
        if self.zca is not None and math.prod(shape) != self.zca.shape[0]:
            raise TransformError(f"images of {shape} have {math.prod(shape)} values but the transform's ZCA matrix "
                                 f"takes {self.zca.shape[0]} values (images {self._shape_text()})")

    def _shape_text(self) -> str:
        return "(" + ", ".join("?" if v is None else str(v) for v in self.fitted_shape()) + ")"

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` as float32 if it is a batch of raw images this transform takes; else TransformError.

        Refused: integer or boolean dtypes (raw uint8 pixels), other shapes than the fitted
        ``(N, H, W, C)``, NaN or infinite values, and values clearly outside [0, 1] (below
        ``INPUT_RANGE[0]`` or above ``INPUT_RANGE[1]``: unscaled, or transformed twice).
        """
        x = np.asarray(x)
        scale = "scale raw pixels to [0, 1] (divide uint8 by 255), as the source loader does"
        if x.dtype.kind in "biu":
            raise TransformError(f"images have dtype {x.dtype}: the transform takes floats in [0, 1]; {scale}")
        if x.dtype.kind != "f":
            raise TransformError(f"images have dtype {x.dtype}: the transform takes float images in [0, 1]")
        if x.ndim != 4:
            raise TransformError(f"expected a batch of images (N, H, W, C) {self._shape_text()}, got shape {x.shape}")
        self.check_image_shape(x.shape[1:])
        if x.size == 0:
            return x.astype(np.float32)
        bad = non_finite(x)
        if bad:
            raise TransformError(f"images hold {bad}; give finite pixels in [0, 1]")
        lo, hi = float(x.min()), float(x.max())
        if lo < INPUT_RANGE[0] or hi > INPUT_RANGE[1]:
            raise TransformError(f"images range over [min {lo:g}, max {hi:g}], not raw pixels in [0, 1]: {scale} "
                                 "(and give raw images, not ones already transformed)")
        return x.astype(np.float32)

    def apply(self, x: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Map (N, H, W, C) raw images in [0, 1] into the release's space; returns float32 of the same shape.

        Raises:
          TransformError: see :meth:`check_input` (another shape, integer pixels, values outside
            [0, 1], NaN).
        """
        x = self.check_input(x)
        x = (x - self.mean) / self.std
        if self.zca is None:
            return x.astype(np.float32)
        d = int(np.prod(x.shape[1:]))
        out = np.empty_like(x)
        for i in range(0, len(x), batch):
            out[i:i + batch] = (normalize_rows(x[i:i + batch].reshape(-1, d)) @ self.zca).reshape(
                x[i:i + batch].shape)
        return out

    def to_bytes(self) -> bytes:
        """``transform.npz`` bytes: mean, std, zca (when on) and ``meta_json`` (format, params, image_shape)."""
        arrays = {"mean": self.mean.astype(np.float32), "std": self.std.astype(np.float32)}
        if self.zca is not None:
            arrays["zca"] = self.zca.astype(np.float32)
        meta = {"format": FORMAT, "params": self.params}
        if self.image_shape is not None:
            meta["image_shape"] = [int(v) for v in self.image_shape]
        arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
        return npz_bytes(arrays)

    @classmethod
    def load(cls, path: str | os.PathLike, content: bytes | None = None) -> "Transform":
        """Read a ``transform.npz``; TransformError naming the file when it is not a valid one.

        ``content``: the file's bytes, already read (e.g. from one consistent snapshot of a
        release); ``path`` then only names it in messages.

        Checked: a readable ``.npz`` (no pickles), the ``mean``, ``std`` and ``meta_json`` arrays,
        JSON metadata of this format, ``mean`` and ``std`` (C,) finite with ``std > 0``, ``zca``
        (d, d) finite, and a recorded ``image_shape`` that agrees with them.
        """
        f = str(path)
        try:
            # bytes, not a path: one read, and np.load never opens files itself (TFDS's builder tests forbid it)
            content = Path(path).read_bytes() if content is None else content
            with np.load(io.BytesIO(content), allow_pickle=False) as z:
                missing = [k for k in ("mean", "std", "meta_json") if k not in z]
                if missing:
                    raise TransformError(f"{f!r} lacks the arrays {missing}; it is not a complete transform file: "
                                         "fetch or regenerate the release")
                arrays = {k: z[k] for k in ("mean", "std", "meta_json", "zca") if k in z}
        except TransformError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise TransformError(f"cannot read {f!r}: it is not a transform file (.npz): {type(e).__name__}: {e}; "
                                 "fetch or regenerate the release") from e
        try:
            meta = json.loads(bytes(arrays["meta_json"]).decode())
        except (ValueError, UnicodeDecodeError) as e:
            raise TransformError(f"{f!r}: its meta_json is not JSON ({e}); the file is damaged") from e
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise TransformError(f"{f!r}: not a {FORMAT} file (format "
                                 f"{meta.get('format') if isinstance(meta, dict) else None!r}) in its meta_json")
        mean, std, zca = arrays["mean"], arrays["std"], arrays.get("zca")
        if mean.ndim != 1 or std.shape != mean.shape or not len(mean):
            raise TransformError(f"{f!r}: mean {mean.shape} and std {std.shape} must both be (C,)")
        for k, a in (("mean", mean), ("std", std)) + ((("zca", zca),) if zca is not None else ()):
            if a.dtype.kind != "f" or not np.isfinite(a).all():
                raise TransformError(f"{f!r}: {k} holds NaN or infinite values (or is not float); the file is "
                                     "damaged: fetch or regenerate the release")
        if not (std > 0).all():
            raise TransformError(f"{f!r}: std holds values <= 0; the file is damaged")
        if zca is not None and (zca.ndim != 2 or zca.shape[0] != zca.shape[1] or zca.shape[0] % len(mean)):
            raise TransformError(f"{f!r}: zca has shape {zca.shape}, not (d, d) with d a multiple of the "
                                 f"{len(mean)} channels")
        shape = meta.get("image_shape")
        if shape is not None:
            ok = (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)
                  and shape[-1] == len(mean) and (zca is None or math.prod(shape) == zca.shape[0]))
            if not ok:
                raise TransformError(f"{f!r}: image_shape {shape!r} does not fit its mean {mean.shape}"
                                     f"{'' if zca is None else f' and zca {zca.shape}'}")
            shape = tuple(shape)
        params = meta.get("params", {})
        return cls(mean=mean, std=std, zca=zca, params=params if isinstance(params, dict) else {}, image_shape=shape)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Remove each row's mean and divide by its norm: ``(x - mean) / ||x - mean||`` (rows of zeros stay 0)."""
    x = x - x.mean(axis=1, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)
