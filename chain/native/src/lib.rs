//! `optio_native`, the Optio node's native extension: ed25519 verification by the ZIP-215
//! rules (ed25519.rs, used by chain/ed25519.py) and batched sparse Merkle tree updates
//! (smt.rs, used by state/smt.py).

mod ed25519;
mod smt;

use pyo3::prelude::*;

/// Native code of the Optio node: ed25519 verification and sparse Merkle tree updates.
#[pymodule]
fn optio_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(ed25519::verify_batch, module)?)?;
    module.add_function(wrap_pyfunction!(ed25519::verify, module)?)?;
    module.add_class::<smt::TreeUpdater>()?;
    module.add_class::<smt::NodeMap>()?;
    Ok(())
}
