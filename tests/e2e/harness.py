"""Helpers for end-to-end tests against real CometBFT localnets driven through the `optio` CLI.

Each localnet gets its own home and its own port range, so tests on different pytest-xdist
workers never collide. Processes are always stopped at the end, even when a test fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from chain.canonical import parse_timestamp
from chain.rpc import RPCClient, RPCError
from localnet.manager import Localnet, free_base_port

T = TypeVar("T")

def optio(*args: str, check: bool = True, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Run the `optio` CLI exactly as a user would (a separate process)."""
    result = subprocess.run(
        [sys.executable, "-m", "chain.cli", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"optio {' '.join(args)} exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


def block_time_ns(rpc: RPCClient, height: int | None = None) -> int:
    """The header time of block `height` (the latest block when None), in unix nanoseconds."""
    seconds, nanos = parse_timestamp(rpc.block(height)["block"]["header"]["time"])
    return seconds * 10**9 + nanos


def optio_json(*args: str, check: bool = True) -> Any:
    """Run the CLI with `--output json` and parse its one JSON object."""
    result = optio(*args, "--output", "json", check=check)
    return json.loads(result.stdout)


def wait_until(predicate: Callable[[], T | None], timeout: float, what: str,
               interval: float = 0.2) -> T:
    """Poll `predicate` until it returns a truthy value; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def running_localnet(home: Path, validators: int) -> Iterator[Localnet]:
    """`optio localnet up` in `home`; `optio localnet down` afterwards, whatever happens."""
    base = free_base_port(validators)
    try:
        optio("localnet", "up", "--home", str(home), "--validators", str(validators),
              "--base-port", str(base), timeout=300)
        yield Localnet(home)
    finally:
        optio("localnet", "down", "--home", str(home), check=False)
        Localnet(home).down(kill=True)


def heights_and_hashes(net: Localnet) -> list[tuple[int | None, str | None]]:
    return [(s.height, s.app_hash) for s in net.status()]


def common_app_hash(net: Localnet, height: int, timeout: float = 60.0) -> str:
    """Wait until every node has block `height + 1` and return the app hash all of them agree
    on for the state after block `height` (it is in the header of block `height + 1`)."""
    hashes: list[str] = []
    for index in range(net.validators):
        rpc = net.rpc(index)
        header = wait_until(lambda: _try_header(rpc, height + 1), timeout,
                            f"node{index} to reach height {height + 1}")
        hashes.append(header)
    assert len(set(hashes)) == 1, f"nodes disagree on the app hash after block {height}: {hashes}"
    return hashes[0]


def _try_header(rpc: RPCClient, height: int) -> str | None:
    try:
        return str(rpc.commit(height)["signed_header"]["header"]["app_hash"])
    except RPCError:  # not there yet, or the node is restarting
        return None
