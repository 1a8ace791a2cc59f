"""The validator oracle: price feeders (off consensus), the vote-extension codec and the
CometBFT vote-extension signature check. Aggregation into state lives in `state/oracle.py`."""
