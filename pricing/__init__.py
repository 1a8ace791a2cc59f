"""Deterministic options pricing and risk kernels (Numba): math core, Black-76/BSM and Greeks,
implied volatility, SVI surfaces, portfolio scenario revaluation, Monte Carlo, fixed-point
boundary toward state."""

# config must run before anything imports numba: it disables Intel SVML.
from pricing import config  # noqa: F401  isort: skip
from pricing.black import (
    Greeks,
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
    theta_per_day,
)
from pricing.dmath import exp, log, norm_cdf, norm_pdf, sqrt
from pricing.fixedpoint import (
    MICRO,
    to_micro_ceil,
    to_micro_floor,
    to_micro_half_even,
    to_units_ceil,
    to_units_ceil_array,
    to_units_floor,
    to_units_floor_array,
    to_units_half_even,
    to_units_half_even_array,
    units_to_float,
)
from pricing.iv import black76_iv, bsm_iv

__all__ = [
    "MICRO",
    "Greeks",
    "black76_greeks",
    "black76_iv",
    "black76_price",
    "bsm_greeks",
    "bsm_iv",
    "bsm_price",
    "exp",
    "log",
    "norm_cdf",
    "norm_pdf",
    "sqrt",
    "theta_per_day",
    "to_micro_ceil",
    "to_micro_floor",
    "to_micro_half_even",
    "to_units_ceil",
    "to_units_ceil_array",
    "to_units_floor",
    "to_units_floor_array",
    "to_units_half_even",
    "to_units_half_even_array",
    "units_to_float",
]
