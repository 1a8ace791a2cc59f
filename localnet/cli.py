"""``optio localnet …``: click front end of ``localnet.manager.Localnet``.

Each command takes ``--home`` (the localnet home, default ``~/.optio/localnet``)
and ``--output text|json``; the group-level ``optio --output json`` applies too.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from localnet.manager import (
    DEFAULT_HOME,
    PROCESSES,
    Localnet,
    LocalnetError,
    Process,
    tail,
)

F = TypeVar("F", bound=Callable[..., Any])


def localnet_options(func: F) -> F:
    """``--home``/``--output`` for every localnet command; errors exit 1 with the reason."""

    @click.option("--home", type=click.Path(path_type=Path), default=None,
                  help=f"Localnet home. Default {DEFAULT_HOME}.")
    @click.option("--output", "-o", type=click.Choice(["text", "json"]), default=None)
    @functools.wraps(func)
    def wrapper(*args: Any, home: Path | None, output: str | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        output = output or getattr(ctx.find_root().obj, "output", None) or "text"
        try:
            return ctx.invoke(func, home or DEFAULT_HOME, output == "json", *args, **kwargs)
        except LocalnetError as exc:
            if output == "json":
                click.echo(json.dumps({"error": str(exc)}))
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group()
def localnet() -> None:
    """Run a multi-validator Optio chain on this machine."""


@localnet.command()
@localnet_options
@click.option("--validators", "-v", type=int, default=None, help="Number of validators (4).")
@click.option("--base-port", type=int, default=None,
              help="Node i uses base+10i+6 (p2p), +7 (rpc), +8 (abci). Default 26650.")
@click.option("--chain-id", default=None, help="Default optio-localnet.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for every node to reach height 2.")
def up(home: Path, as_json: bool, validators: int | None, base_port: int | None,
       chain_id: str | None, timeout: float) -> None:
    """Create the localnet if needed, start every stopped process, wait for blocks."""
    net = Localnet(home, validators, base_port, chain_id)
    created = net.up(timeout=timeout)
    keys = net.demo_keys()
    if as_json:
        click.echo(json.dumps({
            "home": str(net.home), "chain_id": net.chain_id, "created": created,
            "nodes": [{"name": n.name, "rpc": n.rpc_url} for n in net.nodes],
            "keys": [{"name": k.name, "address": k.address} for k in keys],
        }))
        return
    click.echo(f"localnet {net.chain_id} {'created and ' if created else ''}running in {net.home}")
    for n in net.nodes:
        click.echo(f"  {n.name}: {n.rpc_url}")
    click.echo("funded keys (UNENCRYPTED test keyring):")
    for k in keys:
        click.echo(f"  {k.name:<12} {k.address}")
    click.echo(f"use them with: optio --home {net.home} --keyring-backend test "
               f"--node {net.nodes[0].rpc_url} …")


@localnet.command()
@localnet_options
def status(home: Path, as_json: bool) -> None:
    """Height, app hash and process state of every node."""
    nodes = Localnet(home).status()
    if as_json:
        click.echo(json.dumps({"nodes": [n.to_json() for n in nodes]}))
        return
    for n in nodes:
        procs = "  ".join(
            f"{name}={p.pid or '-'}({'up' if p.alive else 'down'})"
            for name, p in (("app", n.app), ("cometbft", n.cometbft))
        )
        state = f"height {n.height} app_hash {n.app_hash}" if n.error is None else "unreachable"
        click.echo(f"{n.name}  {n.rpc}  {state}  {procs}")


@localnet.command()
@localnet_options
@click.argument("node")
@click.option("--app", "process", flag_value="app", help="The app's log.")
@click.option("--cometbft", "process", flag_value="cometbft", default=True,
              help="CometBFT's log (default).")
@click.option("-n", "lines", type=int, default=50, show_default=True)
@click.option("--follow", "-f", is_flag=True)
def logs(home: Path, as_json: bool, node: str, process: str, lines: int, follow: bool) -> None:
    """Print the last lines of NODE's log (node0, or 0)."""
    net = Localnet(home)
    target = net.node(node)
    proc: Process = "app" if process == "app" else "cometbft"
    text = tail(target.log_file(proc), lines)
    if as_json:
        click.echo(json.dumps({"node": target.name, "process": proc, "lines": text.splitlines()}))
        return
    if text:
        click.echo(text)
    if follow:
        for line in net.follow(target.index, proc):
            click.echo(line)


def _process(only: str | None) -> Process | None:
    """The ``--only`` choice as a process name (click already limited it to PROCESSES)."""
    return next((p for p in PROCESSES if p == only), None)


_ONLY = click.option("--only", type=click.Choice(PROCESSES), default=None,
                     help="Only the app or only CometBFT.")


@localnet.command()
@localnet_options
@click.argument("node")
@_ONLY
@click.option("--kill", is_flag=True, help="SIGKILL at once instead of SIGTERM.")
@click.option("--grace", type=float, default=10.0, show_default=True,
              help="Seconds between SIGTERM and SIGKILL.")
def stop(home: Path, as_json: bool, node: str, only: str | None, kill: bool,
         grace: float) -> None:
    """Stop NODE's processes (both unless --only)."""
    net = Localnet(home)
    net.stop_node(node, only=_process(only), kill=kill, grace=grace)
    _done(as_json, {"stopped": net.node(node).name, "only": only}, f"stopped {node}")


@localnet.command()
@localnet_options
@click.argument("node")
@_ONLY
def start(home: Path, as_json: bool, node: str, only: str | None) -> None:
    """Start NODE's stopped processes (both unless --only)."""
    net = Localnet(home)
    net.start_node(node, only=_process(only))
    _done(as_json, {"started": net.node(node).name, "only": only}, f"started {node}")


@localnet.command()
@localnet_options
@click.option("--kill", is_flag=True, help="SIGKILL at once instead of SIGTERM.")
def down(home: Path, as_json: bool, kill: bool) -> None:
    """Stop every process of the localnet."""
    Localnet(home).down(kill=kill)
    _done(as_json, {"down": True}, "localnet stopped")


@localnet.command()
@localnet_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def reset(home: Path, as_json: bool, yes: bool) -> None:
    """Stop and wipe all chain and app data (back to height 0; keys, genesis, config kept)."""
    net = Localnet(home)
    if not yes:
        click.confirm(f"Wipe all chain data of {net.home}?", abort=True, err=True)
    net.reset()
    _done(as_json, {"reset": True}, "localnet reset to height 0")


def _done(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)
