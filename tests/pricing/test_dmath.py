"""Accuracy of the deterministic math core against mpmath, special values, and proof that
the compiled kernels contain no transcendental library call, SVML or fused multiply-add."""

import math
import re
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import njit

from pricing import black, config, dmath, iv, portfolio
from tests.pricing import gen_dmath_tables, naive


def ulps(got: float, exact) -> float:
    """|got − exact| in units of the last place of the double nearest to exact."""
    nearest = float(exact)
    if nearest == 0.0:
        return abs(got) / math.ulp(0.0)
    return float(abs(got - exact)) / math.ulp(nearest)


def max_ulps(f, reference, xs) -> float:
    return max(ulps(f(float(x)), reference(float(x))) for x in xs)


RNG = np.random.default_rng(20261121)


def test_exp_is_within_one_ulp_over_the_normal_range():
    xs = np.concatenate(
        [RNG.uniform(-708.0, 709.78, 6000), RNG.uniform(-1.0, 1.0, 4000), np.linspace(-20, 20, 2001)]
    )
    assert max_ulps(dmath.exp, naive.exp, xs) <= 1.0


def test_exp_is_within_one_ulp_where_the_result_is_subnormal():
    xs = RNG.uniform(-745.0, -708.4, 2000)
    assert max_ulps(dmath.exp, naive.exp, xs) <= 1.0


def test_exp_special_values():
    assert dmath.exp(0.0) == 1.0
    assert dmath.exp(710.0) == math.inf
    assert dmath.exp(math.inf) == math.inf
    assert dmath.exp(-math.inf) == 0.0
    assert dmath.exp(-746.0) == 0.0
    assert math.isnan(dmath.exp(math.nan))
    assert dmath.exp(709.782712893384) == pytest.approx(1.7976931348622732e308, rel=1e-15)


def test_log_is_within_one_ulp_over_the_double_range():
    xs = np.concatenate([
        10.0 ** RNG.uniform(-307.0, 308.0, 5000),
        RNG.uniform(0.5, 2.0, 4000),
        1.0 + RNG.uniform(-1e-6, 1e-6, 1000),
        RNG.uniform(0.0, 5e-308, 500),
    ])
    assert max_ulps(dmath.log, naive.log, xs) <= 1.0


def test_log_special_values():
    assert dmath.log(1.0) == 0.0
    assert dmath.log(0.0) == -math.inf
    assert dmath.log(math.inf) == math.inf
    assert math.isnan(dmath.log(-1.0))
    assert math.isnan(dmath.log(math.nan))
    assert dmath.log(5e-324) == pytest.approx(-744.4400719213812, rel=1e-15)


def test_exp_inverts_log_within_a_few_ulp():
    xs = RNG.uniform(1e-3, 1e3, 2000)
    assert max(ulps(dmath.exp(dmath.log(float(x))), float(x)) for x in xs) <= 4.0


def test_sqrt_is_the_correctly_rounded_square_root():
    xs = RNG.uniform(0.0, 1e6, 2000)
    assert all(dmath.sqrt(float(x)) == math.sqrt(float(x)) for x in xs)


def test_norm_cdf_absolute_error_is_below_2e_16_everywhere():
    xs = np.concatenate([RNG.uniform(-40.0, 10.0, 8000), np.linspace(-9.0, 9.0, 3601)])
    worst = max(float(abs(dmath.norm_cdf(float(x)) - naive.norm_cdf(float(x)))) for x in xs)
    assert worst <= 2e-16


def test_norm_cdf_is_relatively_accurate_in_the_lower_tail():
    xs = np.concatenate([RNG.uniform(-37.5, 0.0, 8000), -np.linspace(0.0, 37.5, 1501)])
    worst = 0.0
    for x in xs:
        exact = naive.norm_cdf(float(x))
        worst = max(worst, float(abs(dmath.norm_cdf(float(x)) - exact) / exact))
    assert worst <= 2e-15


def test_norm_pdf_is_relatively_accurate():
    xs = RNG.uniform(-37.5, 37.5, 6000)
    worst = max(
        float(abs(dmath.norm_pdf(float(x)) - naive.norm_pdf(float(x))) / naive.norm_pdf(float(x))) for x in xs
    )
    assert worst <= 2e-15


def test_norm_cdf_special_values_and_symmetry():
    assert dmath.norm_cdf(0.0) == 0.5
    assert dmath.norm_cdf(math.inf) == 1.0
    assert dmath.norm_cdf(-math.inf) == 0.0
    assert dmath.norm_cdf(-40.0) == 0.0
    assert math.isnan(dmath.norm_cdf(math.nan))
    assert dmath.norm_pdf(math.inf) == 0.0
    for x in RNG.uniform(0.0, 8.0, 500):
        assert abs(dmath.norm_cdf(float(x)) + dmath.norm_cdf(float(-x)) - 1.0) <= 2.3e-16


@njit(**config.JIT)
def _cdf_grid(xs: np.ndarray, out: np.ndarray) -> None:
    for i in range(xs.shape[0]):
        out[i] = dmath.norm_cdf(xs[i])


def test_norm_cdf_is_monotone_across_piece_boundaries():
    xs = np.linspace(-39.0, 9.0, 2_000_001)
    out = np.empty_like(xs)
    _cdf_grid(xs, out)
    assert np.all(np.diff(out) >= 0.0)


def test_norm_cdf_and_pdf_match_the_separate_functions_bit_for_bit():
    for x in np.concatenate([RNG.uniform(-41.0, 41.0, 3000), [0.0, -0.0, 8.0, -8.0, 40.0, math.nan]]):
        both = dmath.norm_cdf_and_pdf(float(x))
        single = (dmath.norm_cdf(float(x)), dmath.norm_pdf(float(x)))
        assert np.array(both).tobytes() == np.array(single).tobytes()


@njit(**config.JIT)
def _scalar_gauss_and_tail(z: np.ndarray, g: np.ndarray, q: np.ndarray) -> None:
    for i in range(z.shape[0]):
        g[i] = dmath._gauss(z[i]) if z[i] < dmath._GAUSS_CUTOFF else 0.0
        q[i] = dmath._upper_tail(z[i])


def test_array_gaussian_and_tail_kernels_match_the_scalar_ones_bit_for_bit():
    # The array kernels reorder work (a counting sort by polynomial piece), never arithmetic.
    z = np.concatenate([
        np.abs(RNG.normal(0.0, 3.0, 100_000)),
        RNG.uniform(0.0, 45.0, 50_000),
        [0.0, 0.5, 7.999999999999999, 8.0, 8.000000000000002, 39.99999999999999, 40.0, 1e300],
    ])
    g, q, g_arr, q_arr = (np.empty_like(z) for _ in range(4))
    _scalar_gauss_and_tail(z, g, q)
    dmath.gaussian_factors(z, g_arr)
    dmath.upper_tails(z, g_arr, q_arr)
    assert g_arr.tobytes() == g.tobytes()
    assert q_arr.tobytes() == q.tobytes()


def test_dmath_tables_match_their_generator():
    source = open(dmath.__file__, encoding="utf-8").read()
    assert gen_dmath_tables.render() in source


def test_numba_cache_is_keyed_by_a_digest_of_the_pricing_sources():
    # A change to any pricing/*.py must not reuse kernels compiled (and inlined) before it.
    assert Path(numba.config.CACHE_DIR).name == config.SOURCES_DIGEST == config._sources_digest()


def test_svml_is_disabled_and_fastmath_is_off():
    assert numba.config.DISABLE_INTEL_SVML
    assert config.JIT["fastmath"] is False
    assert config.JIT_INLINE["fastmath"] is False


FORBIDDEN_IR = re.compile(
    r"@(llvm\.(exp|exp2|log|log2|log10|pow|fma|fmuladd|sin|cos)\.|exp\b|expm1|log\b|log1p|pow\b|erf|erfc|__svml|"
    r"numba_(exp|log|erf|gamma))"
)


def _fresh_compile(dispatcher, *args):
    """A non-cached compile of the kernel (Numba cannot inspect cached code)."""
    options = {k: v for k, v in dispatcher.targetoptions.items() if k != "nopython"}
    fresh = njit(**{**options, "cache": False})(dispatcher.py_func)
    fresh(*args)
    signature = fresh.signatures[0]
    return fresh.inspect_llvm(signature), fresh.inspect_asm(signature)


def _kernel_calls():
    n = 4
    ones = np.ones(n)
    flags = np.array([True, False, True, False])
    yield dmath.exp, (0.5,)
    yield dmath.log, (0.5,)
    yield dmath.sqrt, (0.5,)
    yield dmath.norm_cdf, (0.5,)
    yield dmath.norm_pdf, (0.5,)
    yield dmath.norm_cdf_and_pdf, (0.5,)
    yield dmath.gaussian_tail_gap, (9.0, 0.01)
    yield dmath.gaussian_factors, (ones, np.empty(n))
    yield dmath.upper_tails, (ones, ones, np.empty(n))
    yield black._greeks_kernel, (ones, ones, ones, ones, ones, ones, flags, True, np.empty((6, n)))
    yield black._price_kernel, (ones, ones, ones, ones, ones, ones, flags, np.empty(n))
    grid = portfolio.ScenarioGrid()
    kinds = np.array([portfolio.CALL, portfolio.PUT, portfolio.FUTURE, portfolio.CALL])
    yield portfolio._unit_pnl, (
        kinds, ones, ones, ones, ones, 0.0, grid.spot_moves, grid.price_steps, grid.params,
        np.empty((n, grid.n_scenarios)),
    )
    yield iv._iv_kernel, (ones * 0.1, ones, ones, ones, ones, ones, flags, np.empty(n), np.empty(n, np.int8))


@pytest.mark.parametrize("kernel,args", list(_kernel_calls()), ids=lambda v: getattr(v, "__name__", ""))
def test_consensus_kernel_calls_no_transcendental_library_and_fuses_nothing(kernel, args):
    llvm_ir, asm = _fresh_compile(kernel, *args)
    called = set(re.findall(r"call [^@\n]*(@[\w.$]+)", llvm_ir))
    assert not [c for c in called if FORBIDDEN_IR.match(c)], called
    assert "contract" not in llvm_ir and " fast " not in llvm_ir
    assert not re.search(r"\bv?f(n)?m(add|sub)\d", asm)
    # math.sqrt is declared as libm's sqrt but must lower to the sqrtsd instruction.
    assert not re.search(r"call\w*\s+[^\n]*\bsqrt", asm)


def test_gaussian_tail_gap_is_relatively_accurate_without_cancellation():
    worst = 0.0
    # z ≤ 35 keeps results normal doubles (subnormals carry fewer significant bits).
    for z, s in zip(RNG.uniform(8.0, 35.0, 2000), 10.0 ** RNG.uniform(-12.0, 1.5, 2000)):
        exact = naive.gaussian_tail_gap(float(z), float(s))
        worst = max(worst, float(abs(dmath.gaussian_tail_gap(float(z), float(s)) - exact) / exact))
    assert worst <= 2e-15
