"""Many ed25519 verifications in one call that holds no GIL.

CheckTx hands the signatures of each group of requests to worker threads (chain/app.py) as
one batch: the `optio_native` extension checks them together under the ZIP-215 rules
(chain/ed25519.py), at about half the cost per signature of one-by-one checks
(docs/transactions.md), with the GIL released so the workers verify alongside the
interpreter. Under those rules a batch check accepts exactly when every
signature would pass alone; when it fails, the extension checks each one alone, so the
verdicts are always those of `chain.ed25519.verify_signature`, signature by signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

from chain.ed25519 import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, optio_native


class SignatureBatch:
    """(public key, signature, message) triples packed for the extension.

    Build it and read `verdicts()` on one thread; `verify()` may run on another, where it
    holds the GIL only to start and to return."""

    def __init__(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        self._well_formed = [len(k) == PUBLIC_KEY_BYTES and len(s) == SIGNATURE_BYTES
                             for k, s, _ in items]
        packed = [item for item, ok in zip(items, self._well_formed) if ok]
        self._keys = b"".join(k for k, _, _ in packed)
        self._signatures = b"".join(s for _, s, _ in packed)
        self._messages = b"".join(m for _, _, m in packed)
        self._ends = list(accumulate(len(m) for _, _, m in packed))
        self._verified: list[bool] | None = None

    def verify(self) -> None:
        self._verified = optio_native.verify_batch(self._keys, self._signatures,
                                                   self._messages, self._ends)

    def verdicts(self) -> list[bool]:
        """After `verify()`: `verify_signature` of each triple, in order (a wrong-length key
        or signature is False without reaching the extension)."""
        if self._verified is None:
            raise RuntimeError("SignatureBatch.verdicts() before verify()")
        verified = iter(self._verified)
        return [ok and next(verified) for ok in self._well_formed]
