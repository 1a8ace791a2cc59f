"""Compile options shared by every pricing kernel; must be imported before Numba.

Consensus kernels must compute the same bits on every validator. Two Numba features
would break that: Intel SVML (vendor transcendental routines whose results differ
from libm and between SVML versions) and ``fastmath`` (lets LLVM reassociate and fuse
multiply-adds, so results depend on the CPU and the compiler's whims). SVML is chosen
when Numba first loads, so the environment variable is set here, before anything
imports ``numba``; ``pricing/__init__.py`` imports this module first for that reason.

A third hazard is a stale on-disk cache. Numba invalidates a cached function only when
its own source file changes, not when a function it calls (and here inlines) changes in
another file, and it bakes global arrays in as constants. A node upgraded to a new
``dmath.py`` could then keep running old compiled kernels from ``black.py``. So the cache
directory is keyed by a digest of every source file of this package: any change to
``pricing/`` starts from an empty cache.
"""

import hashlib
import os
import sys
from pathlib import Path
from typing import Any, Final

os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")


def _sources_digest() -> str:
    """First 16 hex digits of the SHA-256 of this package's .py files (names and bytes)."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


#: Digest of the pricing sources; the last component of NUMBA_CACHE_DIR.
SOURCES_DIGEST: Final = _sources_digest()

_cache_base = Path(os.environ.get("NUMBA_CACHE_DIR", Path(__file__).parent / "__pycache__" / "numba"))
# Subprocesses inherit the variable already keyed; do not nest the digest twice.
if _cache_base.name != SOURCES_DIGEST:
    os.environ["NUMBA_CACHE_DIR"] = str(_cache_base / SOURCES_DIGEST)

if "numba" in sys.modules:
    # Someone imported Numba first: make it re-read the environment set above.
    from numba.core import config as _numba_config

    _numba_config.reload_config()

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
