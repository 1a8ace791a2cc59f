"""Many ed25519 verifications in one compiled loop that holds no GIL.

`chain.ed25519.verify_signature` calls libsodium once per signature through cffi, which
releases the GIL for the call and takes it back after; a worker thread doing that in a loop
gets the GIL back only when the event-loop thread lets it go (up to CPython's 5 ms switch
interval), so it cannot verify alongside a busy interpreter. Here a Numba kernel compiled with
`nogil=True` walks a whole batch calling the same libsodium function (`crypto_sign_open`, the
one `verify_signature` uses: same acceptance rules, RFC 8032 plus canonical S and small-order
key refusal), so worker threads verify in parallel with the interpreter (chain/app.py hands
them each read's CheckTx signatures).

Imported on first use: it loads Numba, which the wallet does not need.
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl._sodium
import numba
import numpy as np
from numba.core.typing import cffi_utils

from chain.ed25519 import verify_signature

_SIGNATURE_BYTES = 64
_PUBLIC_KEY_BYTES = 32

# Lets compiled code call the functions of PyNaCl's bundled libsodium (an out-of-line cffi
# module) and use its `ffi.from_buffer`.
cffi_utils.register_module(nacl._sodium)
_ffi = nacl._sodium.ffi


@numba.njit(nogil=True, cache=True)
def _open_all(signed, offsets, keys, opened, crypto_sign_open):  # type: ignore[no-untyped-def]
    """opened[i] = whether signed[offsets[i]:offsets[i+1]] (signature ‖ message) verifies
    under keys[i]. libsodium's function is passed in, not read from a global, so that the
    compiled code can be cached on disk."""
    scratch = np.empty(signed.shape[0], np.uint8)  # crypto_sign_open writes the message here
    message_length = np.zeros(1, np.uint64)
    for i in range(opened.shape[0]):
        lo = offsets[i]
        hi = offsets[i + 1]
        status = crypto_sign_open(_ffi.from_buffer(scratch), _ffi.from_buffer(message_length),
                                  _ffi.from_buffer(signed[lo:hi]), hi - lo,
                                  _ffi.from_buffer(keys[i]))
        opened[i] = status == 0


class SignatureBatch:
    """(public key, signature, message) triples packed for the compiled loop.

    Build it and read `verdicts()` on one thread; `verify()` may run on another, where it
    holds the GIL only to start the loop and to return."""

    def __init__(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        self._well_formed = [len(k) == _PUBLIC_KEY_BYTES and len(s) == _SIGNATURE_BYTES
                             for k, s, _ in items]
        packed = [item for item, ok in zip(items, self._well_formed) if ok]
        self._keys = np.frombuffer(b"".join(k for k, _, _ in packed), np.uint8).reshape(
            -1, _PUBLIC_KEY_BYTES)
        self._signed = np.frombuffer(b"".join(s + m for _, s, m in packed), np.uint8)
        self._offsets = np.zeros(len(packed) + 1, np.int64)
        np.cumsum([_SIGNATURE_BYTES + len(m) for _, _, m in packed], out=self._offsets[1:])
        self._opened = np.zeros(len(packed), np.bool_)
        # Interpreted runs (NUMBA_DISABLE_JIT=1) verify one by one, with the same function.
        self._one_by_one = list(items) if numba.config.DISABLE_JIT else None

    def verify(self) -> None:
        if self._one_by_one is not None:
            self._opened[:] = [verify_signature(*item) for item, ok
                               in zip(self._one_by_one, self._well_formed) if ok]
        elif self._opened.size:
            _open_all(self._signed, self._offsets, self._keys, self._opened,
                      nacl._sodium.lib.crypto_sign_open)

    def verdicts(self) -> list[bool]:
        """After `verify()`: `verify_signature` of each triple, in order (a wrong-length key
        or signature is False without reaching libsodium)."""
        opened = iter(self._opened.tolist())
        return [ok and next(opened) for ok in self._well_formed]

