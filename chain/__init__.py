"""Block lifecycle, transaction codec and verification, the application behind ABCI, the RPC
client and the `optio` CLI wallet."""
