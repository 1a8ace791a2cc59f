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


def verify_signatures(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """`verify_signature(public_key, signature, message)` of every triple, in order.

    A triple whose key or signature has the wrong length is False without reaching libsodium,
    as in `verify_signature`. Interpreted runs (`NUMBA_DISABLE_JIT=1`) verify one by one."""
    if numba.config.DISABLE_JIT:
        return [verify_signature(k, s, m) for k, s, m in items]
    verdicts = [len(k) == _PUBLIC_KEY_BYTES and len(s) == _SIGNATURE_BYTES for k, s, _ in items]
    well_formed = [item for item, ok in zip(items, verdicts) if ok]
    if not well_formed:
        return verdicts
    keys = np.frombuffer(b"".join(k for k, _, _ in well_formed), np.uint8)
    signed = np.frombuffer(b"".join(s + m for _, s, m in well_formed), np.uint8)
    offsets = np.zeros(len(well_formed) + 1, np.int64)
    np.cumsum([_SIGNATURE_BYTES + len(m) for _, _, m in well_formed], out=offsets[1:])
    opened = np.zeros(len(well_formed), np.bool_)
    _open_all(signed, offsets, keys.reshape(-1, _PUBLIC_KEY_BYTES), opened,
              nacl._sodium.lib.crypto_sign_open)
    results = iter(opened.tolist())
    return [ok and next(results) for ok in verdicts]
