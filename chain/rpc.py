"""CometBFT JSON-RPC client used by the wallet, the localnet manager and tests.

One HTTP POST per call with the standard library only (no keep-alive). CometBFT
encodes bytes as base64, int64 as decimal strings and hashes as upper-case hex;
the typed results below convert those once so callers handle Python values.
Methods without a typed result return the raw ``result`` object.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_NODE = "http://127.0.0.1:26657"
DEFAULT_TIMEOUT = 10.0


class RPCError(Exception):
    """The node could not be reached or answered with a JSON-RPC error."""


class NodeUnreachable(RPCError):
    """No HTTP answer from the node (refused, timed out, bad address)."""


class RPCResponseError(RPCError):
    """The node answered with a JSON-RPC ``error`` object."""

    def __init__(self, method: str, code: int, message: str, data: str) -> None:
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"{method}: {message}" + (f" ({data})" if data else ""))


@dataclass(frozen=True, slots=True)
class Status:
    """The parts of ``/status`` the tools use."""

    node_id: str
    moniker: str
    network: str
    latest_height: int
    latest_block_hash: str
    latest_app_hash: str
    catching_up: bool


@dataclass(frozen=True, slots=True)
class ProofOp:
    """One operation of a ``ProofOps`` answer (type, key and data decoded)."""

    type: str
    key: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class QueryResult:
    """An ``abci_query`` response with base64/int64 fields decoded."""

    code: int
    log: str
    info: str
    key: bytes
    value: bytes
    height: int
    codespace: str
    proof_ops: tuple[ProofOp, ...]


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """The CheckTx outcome of ``broadcast_tx_sync`` / the ack of ``_async``."""

    code: int
    log: str
    codespace: str
    hash: str


@dataclass(frozen=True, slots=True)
class TxResult:
    """An included transaction as returned by ``/tx``."""

    hash: str
    height: int
    index: int
    code: int
    log: str
    codespace: str
    gas_used: int
    events: tuple[dict[str, Any], ...]


def b64decode(value: str | None) -> bytes:
    """Decode a CometBFT base64 field (absent or null means empty)."""
    return base64.b64decode(value) if value else b""


def _int(value: str | int | None) -> int:
    return int(value) if value not in (None, "") else 0


class RPCClient:
    """Synchronous JSON-RPC client for one CometBFT node."""

    def __init__(self, url: str = DEFAULT_NODE, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> Any:
        """Send one request and return its ``result``; ``None`` params are omitted."""
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": {k: v for k, v in params.items() if v is not None},
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            # CometBFT answers JSON-RPC errors with HTTP 500 and a JSON body.
            payload = exc.read()
            if not payload:
                raise RPCError(f"{method}: HTTP {exc.code} from {self.url}") from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NodeUnreachable(
                f"cannot reach the node at {self.url} ({reason}); is it running? "
                "Use --node to point at another node."
            ) from exc
        try:
            answer = json.loads(payload)
        except ValueError as exc:
            raise RPCError(f"{method}: {self.url} did not answer JSON-RPC") from exc
        error = answer.get("error")
        if error:
            raise RPCResponseError(
                method, int(error.get("code", 0)), str(error.get("message", "")),
                str(error.get("data", "")),
            )
        return answer.get("result")

    # --- node ------------------------------------------------------------------

    def status(self) -> Status:
        raw = self.call("status")
        sync = raw["sync_info"]
        info = raw["node_info"]
        return Status(
            node_id=info["id"],
            moniker=info.get("moniker", ""),
            network=info["network"],
            latest_height=_int(sync["latest_block_height"]),
            latest_block_hash=sync.get("latest_block_hash", ""),
            latest_app_hash=sync.get("latest_app_hash", ""),
            catching_up=bool(sync.get("catching_up", False)),
        )

    def abci_info(self) -> dict[str, Any]:
        return self.call("abci_info")["response"]

    def net_info(self) -> dict[str, Any]:
        return self.call("net_info")

    # --- queries ---------------------------------------------------------------

    def abci_query(
        self, path: str, data: bytes = b"", height: int | None = None, prove: bool = False
    ) -> QueryResult:
        raw = self.call(
            "abci_query",
            path=path,
            data=data.hex(),
            height=str(height) if height else None,
            prove=prove,
        )["response"]
        ops = (raw.get("proofOps") or {}).get("ops") or []
        return QueryResult(
            code=_int(raw.get("code")),
            log=raw.get("log", ""),
            info=raw.get("info", ""),
            key=b64decode(raw.get("key")),
            value=b64decode(raw.get("value")),
            height=_int(raw.get("height")),
            codespace=raw.get("codespace", ""),
            proof_ops=tuple(
                ProofOp(type=op.get("type", ""), key=b64decode(op.get("key")),
                        data=b64decode(op.get("data")))
                for op in ops
            ),
        )

    # --- transactions ----------------------------------------------------------

    def broadcast_tx_sync(self, tx: bytes) -> BroadcastResult:
        return self._broadcast("broadcast_tx_sync", tx)

    def broadcast_tx_async(self, tx: bytes) -> BroadcastResult:
        return self._broadcast("broadcast_tx_async", tx)

    def _broadcast(self, method: str, tx: bytes) -> BroadcastResult:
        raw = self.call(method, tx=base64.b64encode(tx).decode())
        return BroadcastResult(
            code=_int(raw.get("code")), log=raw.get("log", ""),
            codespace=raw.get("codespace", ""), hash=raw.get("hash", ""),
        )

    def tx(self, tx_hash: str) -> TxResult | None:
        """The included transaction with this hex hash, or ``None`` if not (yet) found."""
        try:
            # POSTed []byte params are base64 (only the URI form takes 0x-hex).
            raw_hash = bytes.fromhex(tx_hash.removeprefix("0x"))
            raw = self.call("tx", hash=base64.b64encode(raw_hash).decode(), prove=False)
        except RPCResponseError as exc:
            if "not found" in f"{exc.message} {exc.data}".lower():
                return None
            raise
        result = raw["tx_result"]
        return TxResult(
            hash=raw["hash"],
            height=_int(raw["height"]),
            index=_int(raw.get("index")),
            code=_int(result.get("code")),
            log=result.get("log", ""),
            codespace=result.get("codespace", ""),
            gas_used=_int(result.get("gas_used")),
            events=tuple(result.get("events") or ()),
        )

    def wait_for_tx(self, tx_hash: str, timeout: float = 30.0, interval: float = 0.2) -> TxResult:
        """Poll ``tx`` until the transaction is included; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.tx(tx_hash)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"transaction {tx_hash} not included after {timeout:g}s")
            time.sleep(interval)

    # --- blocks ----------------------------------------------------------------

    def block(self, height: int | None = None) -> dict[str, Any]:
        return self.call("block", height=str(height) if height else None)

    def commit(self, height: int | None = None) -> dict[str, Any]:
        return self.call("commit", height=str(height) if height else None)

    def validators(
        self, height: int | None = None, page: int = 1, per_page: int = 100
    ) -> dict[str, Any]:
        return self.call(
            "validators", height=str(height) if height else None,
            page=str(page), per_page=str(per_page),
        )

    def wait_for_height(self, height: int, timeout: float = 30.0, interval: float = 0.2) -> int:
        """Poll ``status`` until the latest height is at least ``height``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            latest = self.status().latest_height
            if latest >= height:
                return latest
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"node {self.url} at height {latest}, not {height}, after {timeout:g}s"
                )
            time.sleep(interval)
