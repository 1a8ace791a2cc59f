"""Typed chain state, pure transition functions over it, the error tree, all storage keys, and
the authenticated (Merkle) store on LevelDB."""
