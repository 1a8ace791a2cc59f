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
    DEFAULT_SELF_BOND,
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
@click.option("--genesis-patch", type=click.File("r"), default=None,
              help="JSON merged into the generated genesis.json (objects key by key) when "
                   "the localnet is created, e.g. short staking periods for fault drills.")
@click.option("--self-bond", type=click.IntRange(min=0), default=None, metavar="UOPT",
              help="Bond UOPT of each validator<i> operator key to node i's consensus key in "
                   f"genesis (default {DEFAULT_SELF_BOND}: a stake-backed set); 0 keeps "
                   "CometBFT's genesis validators as fixed, unbacked members.")
def up(home: Path, as_json: bool, validators: int | None, base_port: int | None,
       chain_id: str | None, timeout: float, genesis_patch: Any, self_bond: int | None) -> None:
    """Create the localnet if needed, start every stopped process, wait for blocks."""
    net = Localnet(home, validators, base_port, chain_id)
    overrides = None
    if genesis_patch is not None:
        try:
            overrides = json.load(genesis_patch)
        except ValueError as exc:
            raise LocalnetError(f"--genesis-patch is not JSON: {exc}") from None
        if not isinstance(overrides, dict):
            raise LocalnetError("--genesis-patch must hold a JSON object")
    if net.exists and (overrides is not None or self_bond is not None):
        raise LocalnetError("--genesis-patch and --self-bond only apply when the localnet is "
                            "created; this one exists (reset keeps its genesis: delete the home)")
    created = net.up(timeout=timeout, genesis_overrides=overrides,
                     self_bond=DEFAULT_SELF_BOND if self_bond is None else self_bond)
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


@localnet.command("add-node")
@localnet_options
@click.option("--no-start", is_flag=True, help="Only create it (start it with `start`).")
@click.option("--timeout", type=float, default=180.0, show_default=True,
              help="Seconds to wait for it to catch up.")
def add_node(home: Path, as_json: bool, no_start: bool, timeout: float) -> None:
    """Add a full node that syncs from the validators, ready to become one.

    It gets a fresh consensus key in its CometBFT home and an (unfunded) operator key
    validator<i> in the localnet's test keyring; fund that key and bond with
    `optio tx staking create-validator` to join the validator set.
    """
    net = Localnet(home)
    new = net.add_node(start=not no_start, timeout=timeout)
    key = net.validator_key(new)
    operator = net.keyring.show(f"validator{new.index}").address
    data = {"name": new.name, "home": str(new.home), "rpc": new.rpc_url,
            "consensus_address": key["address"], "consensus_pubkey": key["pub_key"]["value"],
            "operator_key": f"validator{new.index}", "operator_address": operator,
            "started": not no_start}
    _done(as_json, data, "\n".join([
        f"added {new.name} (full node{'' if no_start else ', synced'}): {new.rpc_url}",
        f"  home:               {new.home}",
        f"  consensus pubkey:   {key['pub_key']['value']} (ed25519)",
        f"  operator key:       validator{new.index} {operator} (unfunded)",
    ]))


@localnet.command("double-sign")
@localnet_options
@click.argument("node")
@click.option("--height", type=int, default=None,
              help="Height of the equivocation. Default: the latest block but one.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for a block to include the evidence.")
def double_sign_cmd(home: Path, as_json: bool, node: str, height: int | None,
                    timeout: float) -> None:
    """Fault drill: NODE's validator key signs two conflicting prevotes; the evidence is
    submitted to CometBFT, which verifies it and includes it in a block."""
    from chain.rpc import RPCError
    from localnet.evidence import EvidenceError, double_sign

    net = Localnet(home)
    target = net.node(node)
    # Submit to another node than the offender, as a watchful peer would.
    witness = next((n for n in net.nodes if n.index != target.index), target)
    try:
        found = double_sign(net.rpc(witness, timeout=10.0),
                            target.home / "config" / "priv_validator_key.json", height, timeout)
    except (EvidenceError, RPCError) as exc:
        raise LocalnetError(f"double-sign drill failed: {exc}") from exc
    data = {"node": target.name, "validator_address": found.validator_address,
            "infraction_height": found.infraction_height, "block_height": found.block_height,
            "type": found.type}
    _done(as_json, data,
          f"{target.name} ({found.validator_address}) double-signed at height "
          f"{found.infraction_height}; evidence included in block {found.block_height}")


def _done(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)
