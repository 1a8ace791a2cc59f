//! Batched updates of Optio's sparse Merkle tree: the `TreeUpdater` that state/smt.py exports.
//! The tree's shape rules are in state/smt.py, its hashing rules in state/proof.py.
//!
//! This is a port of the Python model in tests/state/smt_reference.py, step for step: the same
//! recursion creates the same nodes in the same order, which tests/state/test_smt_native.py
//! checks on random batches. Change both together.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};
use sha2::{Digest, Sha256};

const HASH_SIZE: usize = 32;
const PATH_BITS: usize = 8 * HASH_SIZE;
const RECORD_SIZE: usize = 1 + 2 * HASH_SIZE;
const LEAF_TAG: u8 = 0;
const INTERNAL_TAG: u8 = 1;
const EMPTY_HASH: Hash = [0; HASH_SIZE];

type Hash = [u8; HASH_SIZE];
/// A node's stored record: its hash preimage, tag then two 32-byte fields.
type Record = [u8; RECORD_SIZE];
/// (path, value hash) of a leaf.
type Leaf = (Hash, Hash);
/// (path, value hash), or (path, None) to remove the key at that path.
type Update = (Hash, Option<Hash>);

/// Bit `depth` of `path` (0 = most significant bit of byte 0): false goes left.
fn bit(path: &Hash, depth: usize) -> bool {
    (path[depth / 8] >> (7 - depth % 8)) & 1 == 1
}

/// First index of `items` (sorted by path, sharing their first `depth` bits) whose path has
/// bit `depth` set.
fn split<V>(items: &[(Hash, V)], depth: usize) -> PyResult<usize> {
    // Distinct paths part before bit 256, so only a cycle in the stored nodes gets here.
    if depth >= PATH_BITS {
        return Err(PyValueError::new_err(
            "tree deeper than 256 levels: the node store is corrupt",
        ));
    }
    Ok(items.partition_point(|(path, _)| !bit(path, depth)))
}

/// The 32-byte field of `record` starting at byte `at` (1: path or left, 33: value hash or right).
fn field(record: &Record, at: usize) -> Hash {
    let mut out = [0; HASH_SIZE];
    out.copy_from_slice(&record[at..at + HASH_SIZE]);
    out
}

fn hex(node: &Hash) -> String {
    node.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hash_arg(bytes: &[u8], what: &str) -> PyResult<Hash> {
    let length = bytes.len();
    bytes.try_into().map_err(|_| {
        PyValueError::new_err(format!("{what} must be {HASH_SIZE} bytes, got {length}"))
    })
}

/// `state.smt.MissingNodeError(hex)`: the class is Python's so that callers catch one error
/// for a corrupt tree whichever code read it (state.smt.build_proof raises it too).
fn missing_node(py: Python<'_>, node: &Hash) -> PyErr {
    let class = py.import("state.smt").and_then(|module| module.getattr("MissingNodeError"));
    match class.and_then(|class| Ok(class.cast_into::<PyType>()?)) {
        Ok(class) => PyErr::from_type(class, (hex(node),)),
        Err(err) => err,
    }
}

/// Every node of one tree by hash: the committed tree a `state.store.Store` keeps in memory.
///
/// NodeMap() is empty; `commit(updater, root)` makes it hold exactly the tree of `root` (the
/// root `updater` last returned, from a tree this map held). A `TreeUpdater` built over a map
/// reads it without calling back into Python.
#[pyclass(module = "optio_native")]
#[derive(Default)]
pub struct NodeMap {
    nodes: HashMap<Hash, Record>,
}

#[pymethods]
impl NodeMap {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// get(node) -> record; KeyError for a node the map does not hold.
    fn get<'py>(&self, py: Python<'py>, node: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let node = hash_arg(node, "node")?;
        match self.nodes.get(&node) {
            Some(record) => Ok(PyBytes::new(py, record)),
            None => Err(PyKeyError::new_err(hex(&node))),
        }
    }

    /// commit(updater, root): add the records of `updater` that `root` uses and drop the nodes
    /// its batches replaced that `root` no longer uses (`TreeUpdater.committable_nodes`).
    fn commit(&mut self, updater: PyRef<'_, TreeUpdater>, root: &[u8]) -> PyResult<()> {
        let root = hash_arg(root, "root")?;
        // Dropping every replaced node, then adding the written ones, also keeps a node
        // that a batch replaced and a later one created again.
        for node in &updater.replaced {
            self.nodes.remove(node);
        }
        self.nodes.extend(updater.written(root));
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.nodes.len()
    }

    fn __contains__(&self, node: &[u8]) -> bool {
        node.try_into().is_ok_and(|node: Hash| self.nodes.contains_key(&node))
    }
}

/// Where a `TreeUpdater` reads the nodes it did not create: a `NodeMap`, or any Python
/// callable `load(hash) -> record`.
enum Loader {
    Map(Py<NodeMap>),
    Call(Py<PyAny>),
}

/// Applies sorted batches of updates to a root, collecting the new node records.
///
/// TreeUpdater(load): `load` is a `NodeMap`, or a callable load(hash) -> record that reads
/// the stored tree and raises KeyError for an unknown node. ``new_nodes`` holds every record
/// created, in creation order (all reachable from the latest root while ``applies`` is at
/// most 1); the hashes of nodes that some batch removed from the tree are remembered, so that
/// ``committable_nodes`` can list for deletion the ones the final root no longer uses. Each
/// node hash occurs at most once in a tree (it commits to the paths of all leaves below it),
/// which is what makes that deletion safe without reference counts.
#[pyclass(module = "optio_native")]
pub struct TreeUpdater {
    /// None only once the garbage collector has cleared it to break a reference cycle
    /// (store -> working state -> updater -> a loader that refers to the store).
    load: Option<Loader>,
    new_nodes: HashMap<Hash, Record>,
    /// The keys of `new_nodes` in creation order: children before parents.
    created: Vec<Hash>,
    replaced: HashSet<Hash>,
    applies: usize,
}

#[pymethods]
impl TreeUpdater {
    #[new]
    fn new(load: Bound<'_, PyAny>) -> PyResult<Self> {
        let load = if let Ok(map) = load.cast::<NodeMap>() {
            Loader::Map(map.clone().unbind())
        } else if load.is_callable() {
            Loader::Call(load.unbind())
        } else {
            return Err(PyTypeError::new_err("TreeUpdater: load must be a NodeMap or callable"));
        };
        Ok(Self {
            load: Some(load),
            new_nodes: HashMap::new(),
            created: Vec::new(),
            replaced: HashSet::new(),
            applies: 0,
        })
    }

    /// apply(root, updates) -> bytes: the new root after ``updates`` ((path, value hash or
    /// None to delete) tuples, sorted by path, each path once) are applied to ``root``.
    fn apply<'py>(
        &mut self,
        py: Python<'py>,
        root: &[u8],
        updates: Vec<(Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let root = hash_arg(root, "root")?;
        let updates = updates
            .iter()
            .map(|(path, vhash)| {
                let vhash =
                    vhash.as_ref().map(|v| hash_arg(v.as_bytes(), "value hash")).transpose()?;
                Ok((hash_arg(path.as_bytes(), "path")?, vhash))
            })
            .collect::<PyResult<Vec<Update>>>()?;
        // The recursion relies on this order (binary searches, and a leaf per path).
        if updates.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(PyValueError::new_err("updates must be sorted by path, each path once"));
        }
        Ok(PyBytes::new(py, &self.apply_sorted(py, root, &updates)?))
    }

    /// apply_values(root, items) -> bytes: `apply` of the updates that ``items`` ((key,
    /// value or None to delete) tuples, each key once, in any order) make: path SHA-256(key),
    /// value hash SHA-256(value), as state/proof.py defines them.
    fn apply_values<'py>(
        &mut self,
        py: Python<'py>,
        root: &[u8],
        items: Vec<(Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>)>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let root = hash_arg(root, "root")?;
        let sha = |bytes: &Bound<'py, PyBytes>| -> Hash { Sha256::digest(bytes.as_bytes()).into() };
        let mut updates: Vec<Update> =
            items.iter().map(|(key, value)| (sha(key), value.as_ref().map(sha))).collect();
        updates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if updates.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(PyValueError::new_err("apply_values: a key occurs twice"));
        }
        Ok(PyBytes::new(py, &self.apply_sorted(py, root, &updates)?))
    }

    /// committable_nodes(root) -> (records to write, children before parents; hashes to
    /// delete, sorted) for committing ``root``, the root the last apply returned.
    ///
    /// Deletions are the replaced nodes the final root does not use.
    fn committable_nodes<'py>(
        &self,
        py: Python<'py>,
        root: &[u8],
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let written = self.written(hash_arg(root, "root")?);
        let kept: HashSet<&Hash> = written.iter().map(|(node, _)| node).collect();
        let mut deleted: Vec<&Hash> =
            self.replaced.iter().filter(|node| !kept.contains(node)).collect();
        deleted.sort_unstable();
        let written =
            written.iter().map(|(node, record)| (PyBytes::new(py, node), PyBytes::new(py, record)));
        let deleted = deleted.into_iter().map(|node| PyBytes::new(py, node));
        Ok((PyList::new(py, written)?, PyList::new(py, deleted)?))
    }

    /// Every record created so far, hash -> record, in creation order (a copy).
    #[getter]
    fn new_nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for node in &self.created {
            if let Some(record) = self.new_nodes.get(node) {
                out.set_item(PyBytes::new(py, node), PyBytes::new(py, record))?;
            }
        }
        Ok(out)
    }

    /// Number of non-empty batches applied.
    #[getter]
    fn applies(&self) -> usize {
        self.applies
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        match &self.load {
            Some(Loader::Map(map)) => visit.call(map),
            Some(Loader::Call(load)) => visit.call(load),
            None => Ok(()),
        }
    }

    fn __clear__(&mut self) {
        self.load = None;
    }
}

impl TreeUpdater {
    /// The new root after `updates` (sorted by path, each path once).
    fn apply_sorted(&mut self, py: Python<'_>, root: Hash, updates: &[Update]) -> PyResult<Hash> {
        if updates.is_empty() {
            return Ok(root);
        }
        self.applies += 1;
        Ok(self.update(py, root, 0, updates)?.0)
    }

    /// The records created that `root` uses, children before parents.
    fn written(&self, root: Hash) -> Vec<(Hash, Record)> {
        if self.applies <= 1 {
            let record = |node| self.new_nodes.get(node).map(|record| (*node, *record));
            self.created.iter().filter_map(record).collect()
        } else {
            self.reachable_new_nodes(root)
        }
    }

    /// Record of `node`: created by an earlier batch of this updater, else loaded.
    fn read(&self, py: Python<'_>, node: &Hash) -> PyResult<Record> {
        if let Some(record) = self.new_nodes.get(node) {
            return Ok(*record);
        }
        let record = match &self.load {
            None => {
                return Err(PyValueError::new_err(
                    "TreeUpdater used after the garbage collector cleared it",
                ))
            }
            Some(Loader::Map(map)) => match map.borrow(py).nodes.get(node) {
                Some(record) => *record,
                None => return Err(missing_node(py, node)),
            },
            Some(Loader::Call(load)) => {
                let loaded = match load.call1(py, (PyBytes::new(py, node),)) {
                    Ok(loaded) => loaded,
                    Err(err) if err.is_instance_of::<PyKeyError>(py) => {
                        return Err(missing_node(py, node))
                    }
                    Err(err) => return Err(err),
                };
                let bytes = loaded.cast_bound::<PyBytes>(py)?.as_bytes();
                bytes.try_into().map_err(|_| {
                    PyValueError::new_err(format!(
                        "node {}: record of {} bytes, not {RECORD_SIZE}",
                        hex(node),
                        bytes.len()
                    ))
                })?
            }
        };
        if record[0] != LEAF_TAG && record[0] != INTERNAL_TAG {
            return Err(PyValueError::new_err(format!(
                "node {}: bad record tag {}",
                hex(node),
                record[0]
            )));
        }
        Ok(record)
    }

    fn store(&mut self, record: Record) -> Hash {
        let digest: Hash = Sha256::digest(record).into();
        // Like a Python dict: a node created again keeps its first position.
        if let Entry::Vacant(entry) = self.new_nodes.entry(digest) {
            entry.insert(record);
            self.created.push(digest);
        }
        digest
    }

    fn leaf(&mut self, (path, vhash): &Leaf) -> Hash {
        let mut record = [LEAF_TAG; RECORD_SIZE];
        record[1..1 + HASH_SIZE].copy_from_slice(path);
        record[1 + HASH_SIZE..].copy_from_slice(vhash);
        self.store(record)
    }

    fn internal(&mut self, left: &Hash, right: &Hash) -> Hash {
        let mut record = [INTERNAL_TAG; RECORD_SIZE];
        record[1..1 + HASH_SIZE].copy_from_slice(left);
        record[1 + HASH_SIZE..].copy_from_slice(right);
        self.store(record)
    }

    fn is_leaf(&self, py: Python<'_>, node: &Hash) -> PyResult<bool> {
        Ok(*node != EMPTY_HASH && self.read(py, node)?[0] == LEAF_TAG)
    }

    /// (hash, is_leaf) of the subtree at `node` after applying `ups`.
    fn update(
        &mut self,
        py: Python<'_>,
        node: Hash,
        depth: usize,
        ups: &[Update],
    ) -> PyResult<(Hash, bool)> {
        if node == EMPTY_HASH {
            return self.build(depth, &merge(ups, None));
        }
        let record = self.read(py, &node)?;
        if record[0] == LEAF_TAG {
            let existing = (field(&record, 1), field(&record, 1 + HASH_SIZE));
            let result = self.build(depth, &merge(ups, Some(existing)))?;
            if result.0 != node {
                self.replaced.insert(node);
            }
            return Ok(result);
        }
        let (old_left, old_right) = (field(&record, 1), field(&record, 1 + HASH_SIZE));
        let mid = split(ups, depth)?;
        let (left, left_leaf) = match &ups[..mid] {
            [] => (old_left, None),
            some => {
                let (hash, is_leaf) = self.update(py, old_left, depth + 1, some)?;
                (hash, Some(is_leaf))
            }
        };
        let (right, right_leaf) = match &ups[mid..] {
            [] => (old_right, None),
            some => {
                let (hash, is_leaf) = self.update(py, old_right, depth + 1, some)?;
                (hash, Some(is_leaf))
            }
        };
        if left == old_left && right == old_right {
            // Writes that change nothing (same value, absent key deleted) rewrite no node.
            return Ok((node, false));
        }
        let result = self.join(py, left, left_leaf, right, right_leaf)?;
        if result.0 != node {
            self.replaced.insert(node);
        }
        Ok(result)
    }

    /// (hash, is_leaf) of a subtree from its children (leafness None = not yet known).
    fn join(
        &mut self,
        py: Python<'_>,
        left: Hash,
        left_leaf: Option<bool>,
        right: Hash,
        right_leaf: Option<bool>,
    ) -> PyResult<(Hash, bool)> {
        // A one-key subtree must be represented by its leaf, so a leaf next to an empty
        // sibling moves up; an internal node next to an empty sibling stays where it is.
        if left == EMPTY_HASH {
            if right == EMPTY_HASH {
                return Ok((EMPTY_HASH, false));
            }
            if right_leaf.map_or_else(|| self.is_leaf(py, &right), Ok)? {
                return Ok((right, true));
            }
        } else if right == EMPTY_HASH && left_leaf.map_or_else(|| self.is_leaf(py, &left), Ok)? {
            return Ok((left, true));
        }
        Ok((self.internal(&left, &right), false))
    }

    /// (hash, is_leaf) of the canonical subtree at `depth` holding `leaves` (sorted by path).
    fn build(&mut self, depth: usize, leaves: &[Leaf]) -> PyResult<(Hash, bool)> {
        match leaves {
            [] => Ok((EMPTY_HASH, false)),
            [leaf] => Ok((self.leaf(leaf), true)),
            _ => {
                let mid = split(leaves, depth)?;
                let (left, _) = self.build(depth + 1, &leaves[..mid])?;
                let (right, _) = self.build(depth + 1, &leaves[mid..])?;
                Ok((self.internal(&left, &right), false))
            }
        }
    }

    /// The records of `new_nodes` reachable from `root`, children before parents.
    ///
    /// Several batches applied before one commit leave intermediate nodes behind; only the
    /// ones the final root still uses are worth persisting. Old nodes are not in `new_nodes`,
    /// so the walk stops at them.
    fn reachable_new_nodes(&self, root: Hash) -> Vec<(Hash, Record)> {
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            let Some(record) = self.new_nodes.get(&node) else { continue };
            out.push((node, *record));
            if record[0] == INTERNAL_TAG {
                stack.push(field(record, 1 + HASH_SIZE));
                stack.push(field(record, 1));
            }
        }
        // Reversed pre-order puts every node after all of its descendants.
        out.reverse();
        out
    }
}

/// Leaves of a subtree that held at most `existing`, after `ups`.
fn merge(ups: &[Update], existing: Option<Leaf>) -> Vec<Leaf> {
    let mut leaves: Vec<Leaf> =
        ups.iter().filter_map(|&(path, vhash)| Some((path, vhash?))).collect();
    if let Some(leaf) = existing {
        if ups.binary_search_by(|(path, _)| path.cmp(&leaf.0)).is_err() {
            let at = leaves.partition_point(|(path, _)| *path < leaf.0);
            leaves.insert(at, leaf);
        }
    }
    leaves
}
