"""Genesis: the validated app-state schema, localnet presets, and the builder that turns
`cometbft testnet`/`optio init` output into a complete genesis."""
