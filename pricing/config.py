"""Compile options shared by every pricing kernel; must be imported before Numba.

Consensus kernels must compute the same bits on every validator. Two Numba features
would break that: Intel SVML (vendor transcendental routines whose results differ
from libm and between SVML versions) and ``fastmath`` (lets LLVM reassociate and fuse
multiply-adds, so results depend on the CPU and the compiler's whims). SVML is chosen
when Numba first loads, so the environment variable is set here, before anything
imports ``numba``; ``pricing/__init__.py`` imports this module first for that reason.
"""

import os

os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")

from typing import Any, Final  # noqa: E402

#: Options for every consensus kernel: ``@njit(**JIT)``.
#: ``error_model="numpy"`` makes division by zero give inf/nan as IEEE-754 says instead
#: of raising, which is also what the interpreted (``NUMBA_DISABLE_JIT=1``) path of a
#: kernel does for NumPy scalars; ``cache=True`` lets test and node processes reuse
#: compiled code instead of recompiling every kernel at start-up.
JIT: Final[dict[str, Any]] = {
    "fastmath": False,
    "cache": True,
    "error_model": "numpy",
    "nogil": True,
}

#: Options for small helper kernels called from other kernels. Numba compiles each
#: function separately and LLVM cannot inline across them, so a call per exp/CDF would
#: cost more than the arithmetic; ``inline="always"`` splices the helper into its caller
#: at the Numba IR level. Same arithmetic, same bits — only call overhead goes.
JIT_INLINE: Final[dict[str, Any]] = {**JIT, "inline": "always"}
