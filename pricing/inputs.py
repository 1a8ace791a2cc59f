"""Validation and broadcasting of the inputs of public pricing functions.

Kernels trust their inputs; public wrappers call ``prepare`` first so that malformed
input (wrong dtype, non-finite numbers, shapes that do not broadcast) fails with a
clear ValueError before any kernel runs.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Prepared:
    """Flat, contiguous float64 inputs plus bool flags, and how to shape results."""

    arrays: list[np.ndarray]
    flags: np.ndarray
    shape: tuple[int, ...]
    scalar: bool

    def result(self, flat: np.ndarray) -> np.ndarray | float:
        """A kernel's flat output as a float for scalar inputs, else in the broadcast shape."""
        return float(flat[0]) if self.scalar else flat.reshape(self.shape)


def prepare(names: tuple[str, ...], values: tuple, is_call: object) -> Prepared:
    """Broadcasts values (named by names) with the bool is_call; requires finite values."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    flags = np.asarray(is_call)
    if flags.dtype != np.bool_:
        raise ValueError(f"is_call must be bool, got dtype {flags.dtype}")
    try:
        *arrays, flags = np.broadcast_arrays(*arrays, flags)
    except ValueError as exc:
        raise ValueError(f"inputs do not broadcast together: {exc}") from None
    for name, a in zip(names, arrays):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite")
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    return Prepared(flat, np.ascontiguousarray(flags).reshape(-1), flags.shape, flags.ndim == 0)


def require_positive(name: str, a: np.ndarray) -> None:
    """Raises ValueError unless every element of a is > 0."""
    if not (a > 0.0).all():
        raise ValueError(f"{name} must be > 0")


def require_non_negative(name: str, a: np.ndarray) -> None:
    """Raises ValueError unless every element of a is >= 0."""
    if not (a >= 0.0).all():
        raise ValueError(f"{name} must be >= 0")
