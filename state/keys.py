"""Every storage key of the node, built in this one module.

Two namespaces live in one LevelDB:

1. the store's own layout (tree nodes, values, commit metadata), which is not part
   of the app state and not covered by the app hash except through the tree;
2. app-state keys, which are the leaves of the Merkle tree.

Integers inside keys are big-endian fixed width so that byte order is numeric
order; variable-length components are length-prefixed so no key is a prefix of
another by accident. Iterate only in key order.
"""

from __future__ import annotations

# --- 1. Store layout (owned by state/store.py) ------------------------------------

# --- 2. App-state keys ----------------------------------------------------------------
