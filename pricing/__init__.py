"""Deterministic options pricing and risk kernels (Numba): math core, Black-76/BSM and Greeks,
implied volatility, SVI surfaces, portfolio scenario revaluation, Monte Carlo, fixed-point
boundary toward state."""

# config must run before anything imports numba: it disables Intel SVML.
from pricing import config  # noqa: F401  isort: skip
from pricing.dmath import exp, log, norm_cdf, norm_pdf, sqrt

__all__ = ["exp", "log", "norm_cdf", "norm_pdf", "sqrt"]
