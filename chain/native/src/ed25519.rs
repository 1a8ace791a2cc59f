//! ed25519 signature verification for the Optio node, by the ZIP-215 rules (the rules
//! CometBFT v0.38 applies to every signature it checks): S must be below the group order,
//! A and R may be any encodings of curve points, and the equation is cofactored,
//! [8][S]B = [8]R + [8][k]A. Under these rules a batch check agrees exactly with checking
//! each signature alone, so nodes verifying in batches of any make-up reach the same
//! verdicts (the `ed25519-zebra` crate implements both).
//!
//! Both functions release the GIL while they verify.

use ed25519_zebra::{batch, Signature, VerificationKey, VerificationKeyBytes};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rand_core::OsRng;

const KEY_BYTES: usize = 32;
const SIGNATURE_BYTES: usize = 64;

fn key_at(keys: &[u8], i: usize) -> VerificationKeyBytes {
    let mut key = [0u8; KEY_BYTES];
    key.copy_from_slice(&keys[i * KEY_BYTES..(i + 1) * KEY_BYTES]);
    VerificationKeyBytes::from(key)
}

fn signature_at(signatures: &[u8], i: usize) -> Signature {
    let mut signature = [0u8; SIGNATURE_BYTES];
    signature.copy_from_slice(&signatures[i * SIGNATURE_BYTES..(i + 1) * SIGNATURE_BYTES]);
    Signature::from_bytes(&signature)
}

fn verify_one(key: VerificationKeyBytes, signature: &Signature, message: &[u8]) -> bool {
    VerificationKey::try_from(key).and_then(|key| key.verify(signature, message)).is_ok()
}

/// Verdicts for n signatures. One batch check first (random coefficients: it accepts a batch
/// holding a bad signature with probability below 2^-128); if it fails, each signature alone,
/// so that a bad signature costs the batch one extra pass and no more.
fn verify_all(keys: &[u8], signatures: &[u8], messages: &[u8], ends: &[usize]) -> Vec<bool> {
    let n = ends.len();
    let message = |i: usize| &messages[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
    let mut verifier = batch::Verifier::new();
    for i in 0..n {
        verifier.queue((key_at(keys, i), signature_at(signatures, i), message(i)));
    }
    if verifier.verify(OsRng).is_ok() {
        return vec![true; n];
    }
    (0..n)
        .map(|i| verify_one(key_at(keys, i), &signature_at(signatures, i), message(i)))
        .collect()
}

/// verify_batch(keys, signatures, messages, ends) -> list[bool]
///
/// Signature i is signatures[64 i : 64 i + 64] by the key keys[32 i : 32 i + 32] over
/// messages[ends[i - 1] : ends[i]] (from 0 for i = 0).
#[pyfunction]
pub fn verify_batch(
    py: Python<'_>,
    keys: &[u8],
    signatures: &[u8],
    messages: &[u8],
    ends: Vec<usize>,
) -> PyResult<Vec<bool>> {
    let n = ends.len();
    if keys.len() != n * KEY_BYTES || signatures.len() != n * SIGNATURE_BYTES {
        return Err(PyValueError::new_err("verify_batch: keys or signatures of the wrong length"));
    }
    if ends.windows(2).any(|w| w[0] > w[1]) || ends.last().is_some_and(|&e| e > messages.len()) {
        return Err(PyValueError::new_err("verify_batch: message ends out of order or range"));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(py.detach(|| verify_all(keys, signatures, messages, &ends)))
}

/// verify(public_key, signature, message) -> bool: one signature; wrong lengths are False.
#[pyfunction]
pub fn verify(py: Python<'_>, public_key: &[u8], signature: &[u8], message: &[u8]) -> bool {
    if public_key.len() != KEY_BYTES || signature.len() != SIGNATURE_BYTES {
        return false;
    }
    py.detach(|| verify_one(key_at(public_key, 0), &signature_at(signature, 0), message))
}
