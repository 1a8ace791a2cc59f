"""Deterministic options pricing and risk kernels (Numba): math core, Black-76/BSM and Greeks,
implied volatility, SVI surfaces, portfolio scenario revaluation, Monte Carlo, fixed-point
boundary toward state."""
