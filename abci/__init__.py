"""ABCI 2.0 socket server: uvarint-framed protobuf over TCP/unix sockets, the four CometBFT
connections, in-order pipelined answers. A thin adapter that hands each request to `chain/`."""
