"""Generates the polynomial tables of ``pricing/dmath.py`` from mpmath (300-bit) values.

Run ``python -m tests.pricing.gen_dmath_tables`` to print the tables as Python source;
``test_dmath_tables_match_their_generator`` checks the committed tables equal this output,
so the numbers in the consensus library have a reproducible origin.

Method: the normal upper tail is written Q(z) = exp(-z²/2) · M(z) with
M(z) = erfc(z/√2)/2 · exp(z²/2), a smooth, slowly varying function (erfcx in disguise).
- On [0, 8) M is interpolated on 16 pieces of width 1/2 by degree-12 polynomials at
  Chebyshev nodes, in the local variable t = z − (piece centre).
- On [8, ∞) the function T(w) = z·M(z)·√(2π) (→ 1 as z → ∞) is interpolated in
  w = 64/z² ∈ (0, 1] by a degree-11 polynomial.
Interpolation happens in the monomial basis solved at 300 bits; coefficients are then
rounded to the nearest double (``float``), which is what the tables store.
"""

import textwrap

import mpmath as mp

PIECE_WIDTH = mp.mpf(1) / 2
PIECES = 16
PIECE_DEGREE = 12
TAIL_DEGREE = 11


def mills_scaled(z: mp.mpf) -> mp.mpf:
    """M(z) = Q(z)·exp(z²/2)."""
    return mp.erfc(z / mp.sqrt(2)) / 2 * mp.exp(z * z / 2)


def tail_function(w: mp.mpf) -> mp.mpf:
    """T(w) = z·M(z)·√(2π) with z = 8/√w; T(0) = 1 by the asymptotic expansion."""
    if w == 0:
        return mp.mpf(1)
    z = 8 / mp.sqrt(w)
    return z * mills_scaled(z) * mp.sqrt(2 * mp.pi)


def interpolate(f, a: mp.mpf, b: mp.mpf, degree: int, centre: mp.mpf) -> list[float]:
    """Monomial coefficients (in x − centre) of the interpolant of f at Chebyshev nodes."""
    n = degree + 1
    mid, half = (a + b) / 2, (b - a) / 2
    nodes = [mid + half * mp.cos(mp.pi * (2 * i + 1) / (2 * n)) for i in range(n)]
    matrix = mp.matrix([[(x - centre) ** j for j in range(n)] for x in nodes])
    values = mp.matrix([f(x) for x in nodes])
    coefficients = mp.lu_solve(matrix, values)
    return [float(coefficients[j]) for j in range(n)]


def tables() -> tuple[list[list[float]], list[float]]:
    """(piece coefficients, tail coefficients), lowest degree first."""
    with mp.workprec(300):
        pieces = []
        for i in range(PIECES):
            a = i * PIECE_WIDTH
            b = a + PIECE_WIDTH
            pieces.append(interpolate(mills_scaled, a, b, PIECE_DEGREE, (a + b) / 2))
        tail = interpolate(tail_function, mp.mpf(0), mp.mpf(1), TAIL_DEGREE, mp.mpf(0))
    return pieces, tail


def render_row(row: list[float], indent: str) -> str:
    """One coefficient list as wrapped Python source, exact via ``repr`` round-tripping."""
    body = textwrap.fill(", ".join(repr(c) for c in row) + ",", 96 - len(indent))
    return "\n".join(indent + line for line in body.splitlines())


def render() -> str:
    """The table definitions exactly as they appear in ``pricing/dmath.py``."""
    pieces, tail = tables()
    lines = ["_MILLS_PIECES = np.array(", "    ["]
    for row in pieces:
        lines += ["        [", render_row(row, " " * 12), "        ],"]
    lines += ["    ]", ")", "_MILLS_TAIL = np.array(", "    [", render_row(tail, " " * 8), "    ]", ")"]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
