"""Fixed-point boundary: the only way a float computed in ``pricing/`` reaches state.

A kernel output v (a binary64 float) is converted to an integer count of some unit u
(micro-units of collateral, price ticks, ppm) with the rounding direction in the name:

    to_units_floor(v, u) = ⌊v / u⌋,  to_units_ceil(v, u) = ⌈v / u⌉,
    to_units_half_even(v, u) = v / u rounded to the nearest integer, ties to even.

The quotient is computed exactly: every finite float is a rational p/2^e
(``float.as_integer_ratio``) and u is an exact ``Fraction`` or ``int`` (a float unit such
as 0.0005 is refused because it is not the number it looks like), so v/u is an exact
rational and only the named rounding is applied. Callers choose the direction that
favours the system (DESIGN.md §3): e.g. ceil for margin a trader must post, floor for
amounts paid out. NaN, ±inf and results outside the signed 64-bit range raise
ValueError; state never sees a value that was clipped silently.
"""

import math
from fractions import Fraction
from typing import Callable, Final

import numpy as np

#: One micro-unit (1e-6) of collateral or of the staking token; also one ppm.
MICRO: Final = Fraction(1, 1_000_000)

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

Unit = Fraction | int


def _exact_quotient(value: float, unit: Unit) -> Fraction:
    """value / unit as an exact rational, after checking both."""
    if isinstance(unit, bool) or not isinstance(unit, (Fraction, int)):
        raise ValueError(f"unit must be an exact Fraction or int, got {type(unit).__name__}")
    if unit <= 0:
        raise ValueError(f"unit must be > 0, got {unit}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"cannot convert non-finite value {v} to integer units")
    numerator, denominator = v.as_integer_ratio()
    return Fraction(numerator, denominator) / unit


def _checked(n: int, value: float) -> int:
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise ValueError(f"{value!r} is out of the signed 64-bit range in these units")
    return n


def _floor(q: Fraction) -> int:
    # Python's // on integers is floor division for every sign.
    return q.numerator // q.denominator


def _ceil(q: Fraction) -> int:
    # ⌈a/b⌉ = −⌊−a/b⌋ (b > 0 in a normalized Fraction).
    return -(-q.numerator // q.denominator)


def _half_even(q: Fraction) -> int:
    # round() on a Fraction rounds to nearest with ties to even, exactly.
    return round(q)


def to_units_floor(value: float, unit: Unit) -> int:
    """⌊value / unit⌋ exactly (toward −inf)."""
    return _checked(_floor(_exact_quotient(value, unit)), value)


def to_units_ceil(value: float, unit: Unit) -> int:
    """⌈value / unit⌉ exactly (toward +inf)."""
    return _checked(_ceil(_exact_quotient(value, unit)), value)


def to_units_half_even(value: float, unit: Unit) -> int:
    """value / unit rounded to nearest, ties to even, exactly."""
    return _checked(_half_even(_exact_quotient(value, unit)), value)


def to_micro_floor(value: float) -> int:
    """Micro-units (1e-6), rounded toward −inf."""
    return to_units_floor(value, MICRO)


def to_micro_ceil(value: float) -> int:
    """Micro-units (1e-6), rounded toward +inf."""
    return to_units_ceil(value, MICRO)


def to_micro_half_even(value: float) -> int:
    """Micro-units (1e-6), rounded to nearest with ties to even."""
    return to_units_half_even(value, MICRO)


def _array(values: np.ndarray, unit: Unit, rounding: Callable[[Fraction], int]) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64)
    out = np.empty(flat.shape, dtype=np.int64)
    for index, v in np.ndenumerate(flat):
        out[index] = _checked(rounding(_exact_quotient(v, unit)), float(v))
    return out


def to_units_floor_array(values: np.ndarray, unit: Unit) -> np.ndarray:
    """Element-wise ``to_units_floor`` into an int64 array of the same shape."""
    return _array(values, unit, _floor)


def to_units_ceil_array(values: np.ndarray, unit: Unit) -> np.ndarray:
    """Element-wise ``to_units_ceil`` into an int64 array of the same shape."""
    return _array(values, unit, _ceil)


def to_units_half_even_array(values: np.ndarray, unit: Unit) -> np.ndarray:
    """Element-wise ``to_units_half_even`` into an int64 array of the same shape."""
    return _array(values, unit, _half_even)


def units_to_float(n: int, unit: Unit) -> float:
    """n·unit as the nearest float (ties to even): integer state entering a kernel.

    Python's int/int true division is correctly rounded, so this is exact whenever n·unit
    is representable and otherwise the nearest double — the same on every machine.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n must be an integer, got {type(n).__name__}")
    if isinstance(unit, bool) or not isinstance(unit, (Fraction, int)) or unit <= 0:
        raise ValueError("unit must be a positive exact Fraction or int")
    q = Fraction(int(n)) * unit
    return q.numerator / q.denominator
