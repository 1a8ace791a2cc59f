"""The ``optio`` command: wallet (keys, tx, queries), node start, and localnet manager.

Every command accepts the common options ``--home``, ``--node``, ``--output`` and
``--keyring-backend`` either before the command group (``optio --home H keys list``)
or after the command (``optio keys list --home H``). With ``--output json`` each
command prints exactly one JSON object on stdout. Failures exit non-zero with a
message on stderr; a transaction rejected by the chain prints its numbered error
like ``error 35 (insufficient funds): account optio1… has …``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from chain import keystore
from chain.address import parse_address
from chain.cli_staking import staking_groups
from chain.keystore import Keyring, KeystoreError
from chain.rpc import DEFAULT_NODE, QueryResult, RPCClient, RPCError
from localnet.cli import localnet
from state.errors import CODES, OptioError
from state.denoms import coin_text

DEFAULT_HOME = "~/.optio"
_AMOUNT = re.compile(r"^(\d+)([a-z][a-z0-9/]{1,127})$")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Settings:
    """The common options after merging group-level and command-level values."""

    home: Path
    node: str
    output: str
    keyring_backend: str
    home_given: bool

    @property
    def json(self) -> bool:
        return self.output == "json"

    def rpc(self) -> RPCClient:
        return RPCClient(self.node)

    def keyring(self) -> Keyring:
        return Keyring(self.home, self.keyring_backend)


class ChainRejected(click.ClickException):
    """The chain answered a transaction or query with a non-zero code."""

    exit_code = 2


def error_name(code: int) -> str:
    """Readable name of an Optio error code, from the error tree (``InsufficientFunds``
    becomes ``insufficient funds``)."""
    cls = CODES.get(code)
    if cls is None:
        return "unknown error"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()


def format_chain_error(code: int, log: str, codespace: str = "optio") -> str:
    """``error <code> (<name>): <message>`` for a non-zero ABCI code."""
    if codespace and codespace != "optio":
        return f"error {code} ({codespace}): {log}"
    name = error_name(code)
    # Messages of the error tree often start with their own name; say it once.
    message = log[len(name) + 2:] if log.lower().startswith(name + ": ") else log
    return f"error {code} ({name}): {message}"


def emit(settings: Settings, data: dict[str, Any], text: str) -> None:
    """Print ``data`` as one JSON object or ``text`` for humans."""
    click.echo(json.dumps(data, sort_keys=True) if settings.json else text)


def fail(settings: Settings, data: dict[str, Any], message: str, exit_code: int = 2) -> NoReturn:
    """Report a failure (JSON object on stdout in json mode, message on stderr) and exit."""
    if settings.json:
        click.echo(json.dumps({**data, "error": message}, sort_keys=True))
    click.echo(message, err=True)
    sys.exit(exit_code)


def common_options(func: F) -> F:
    """Accept the common options after the command too; they override the group's."""

    @click.option("--home", "home_", type=click.Path(path_type=Path), default=None,
                  help="Wallet home (keys). Default ~/.optio.")
    @click.option("--node", "node_", default=None, help=f"CometBFT RPC URL. Default {DEFAULT_NODE}.")
    @click.option("--output", "-o", "output_", type=click.Choice(["text", "json"]), default=None)
    @click.option("--keyring-backend", "backend_", type=click.Choice(keystore.BACKENDS),
                  default=None)
    @functools.wraps(func)
    def wrapper(*args: Any, home_: Path | None, node_: str | None, output_: str | None,
                backend_: str | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        base: Settings = ctx.find_object(Settings) or _settings(None, None, None, None)
        settings = replace(
            base,
            home=home_.expanduser() if home_ else base.home,
            node=node_ or base.node,
            output=output_ or base.output,
            keyring_backend=backend_ or base.keyring_backend,
            home_given=base.home_given or home_ is not None,
        )
        try:
            return ctx.invoke(func, settings, *args, **kwargs)
        except (KeystoreError, RPCError, TimeoutError) as exc:
            fail(settings, {}, f"error: {exc}", exit_code=1)
        except OptioError as exc:
            # Checks the wallet runs locally (e.g. a mistyped address) use the chain's codes.
            fail(settings, {"code": exc.code}, format_chain_error(exc.code, exc.message))

    return wrapper  # type: ignore[return-value]


def _settings(home: Path | None, node: str | None, output: str | None,
              backend: str | None) -> Settings:
    return Settings(
        home=(home or Path(DEFAULT_HOME)).expanduser(),
        node=node or DEFAULT_NODE,
        output=output or "text",
        keyring_backend=backend or "file",
        home_given=home is not None,
    )


@click.group()
@click.option("--home", type=click.Path(path_type=Path), default=None,
              help="Wallet home holding keyring-<backend>/. Default ~/.optio.")
@click.option("--node", default=None, help=f"CometBFT RPC URL. Default {DEFAULT_NODE}.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default=None,
              help="text (default) or one JSON object.")
@click.option("--keyring-backend", type=click.Choice(keystore.BACKENDS), default=None,
              help="file (encrypted, default) or test (unencrypted, localnets only).")
@click.pass_context
def main(ctx: click.Context, home: Path | None, node: str | None, output: str | None,
         keyring_backend: str | None) -> None:
    """Optio wallet, node and localnet tool."""
    ctx.obj = _settings(home, node, output, keyring_backend)


# --- passphrases ----------------------------------------------------------------------


def passphrase(settings: Settings, prompt: str, confirm: bool = False) -> str | None:
    """The keyring passphrase: None for the test backend, else env var or prompt."""
    if settings.keyring_backend == "test":
        return None
    from_env = os.environ.get(keystore.PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm,
                          err=True))


# --- keys -----------------------------------------------------------------------------


def key_json(info: keystore.KeyInfo) -> dict[str, Any]:
    return {"name": info.name, "address": info.address, "pubkey": info.pubkey.hex(),
            "backend": info.backend}


@main.group()
def keys() -> None:
    """Manage the keys of the keyring."""


@keys.command("add")
@common_options
@click.argument("name")
@click.option("--recover", is_flag=True, help="Recover from a hex seed (prompted, or stdin).")
def keys_add(settings: Settings, name: str, recover: bool) -> None:
    """Create a new random key NAME (or recover one from its seed)."""
    ring = settings.keyring()
    seed = None
    if recover:
        seed = keystore.parse_seed_hex(
            click.prompt("Seed (64 hex digits)", hide_input=True, err=True))
    info = ring.add(name, seed=seed,
                    passphrase=passphrase(settings, "Passphrase to encrypt the key", confirm=True))
    text = f"{info.name}: {info.address}\npubkey: {info.pubkey.hex()}"
    if info.backend == "test":
        text += f"\nWARNING: {keystore.TEST_WARNING}"
    emit(settings, key_json(info), text)


@keys.command("list")
@common_options
def keys_list(settings: Settings) -> None:
    """List the keys of the keyring."""
    infos = settings.keyring().list()
    emit(settings, {"keys": [key_json(i) for i in infos]},
         "\n".join(f"{i.name}\t{i.address}" for i in infos) or "(no keys)")


@keys.command("show")
@common_options
@click.argument("name")
@click.option("--address", "-a", "address_only", is_flag=True, help="Print only the address.")
def keys_show(settings: Settings, name: str, address_only: bool) -> None:
    """Show the address and public key of NAME."""
    info = settings.keyring().show(name)
    text = info.address if address_only else (
        f"name: {info.name}\naddress: {info.address}\npubkey: {info.pubkey.hex()}")
    emit(settings, key_json(info), text)


@keys.command("export")
@common_options
@click.argument("name")
@click.option("--unsafe", is_flag=True, help="Print the raw private seed in hex instead.")
def keys_export(settings: Settings, name: str, unsafe: bool) -> None:
    """Export NAME as an encrypted armor (or, with --unsafe, its raw seed)."""
    ring = settings.keyring()
    secret = passphrase(settings, f"Passphrase of {name}")
    if unsafe:
        seed = ring.seed(name, secret).hex()
        click.echo("WARNING: anyone with this seed controls the account.", err=True)
        emit(settings, {"name": name, "seed": seed}, seed)
        return
    export_secret = str(click.prompt("Passphrase to encrypt the export", hide_input=True,
                                     confirmation_prompt=True, err=True))
    armor = ring.export_armor(name, secret, export_secret)
    emit(settings, {"name": name, "armor": json.loads(armor)}, armor)


@keys.command("import")
@common_options
@click.argument("name")
@click.argument("armor_file", type=click.File("r"))
def keys_import(settings: Settings, name: str, armor_file: Any) -> None:
    """Import an armor made by `keys export` (ARMOR_FILE, or - for stdin) as NAME."""
    armor = armor_file.read()
    armor_secret = str(click.prompt("Passphrase of the export", hide_input=True, err=True))
    info = settings.keyring().import_armor(
        name, armor, armor_secret, passphrase(settings, "Passphrase to encrypt the key",
                                              confirm=True))
    emit(settings, key_json(info), f"imported {info.name}: {info.address}")


@keys.command("delete")
@common_options
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def keys_delete(settings: Settings, name: str, yes: bool) -> None:
    """Delete NAME from the keyring (irreversible without a backup)."""
    ring = settings.keyring()
    info = ring.show(name)
    if not yes:
        click.confirm(f"Delete key {name} ({info.address})? This cannot be undone",
                      abort=True, err=True)
    ring.delete(name)
    emit(settings, {"deleted": name, "address": info.address}, f"deleted {name}")


# --- queries --------------------------------------------------------------------------


def checked_query(settings: Settings, path: str, prove: bool = False) -> QueryResult:
    """``abci_query`` that fails with the numbered error on a non-zero code."""
    result = settings.rpc().abci_query(path, prove=prove)
    if result.code != 0:
        fail(settings, {"code": result.code, "path": path},
             format_chain_error(result.code, result.log, result.codespace))
    return result


def parse_address_arg(settings: Settings, keyring_name_or_address: str) -> str:
    """An ``optio1…`` address, or the address of a key of that name."""
    if keyring_name_or_address.startswith("optio1"):
        parse_address(keyring_name_or_address)
        return keyring_name_or_address
    return settings.keyring().show(keyring_name_or_address).address


@main.group("q")
def query() -> None:
    """Query the chain state."""


@query.command("account")
@common_options
@click.argument("address")
def q_account(settings: Settings, address: str) -> None:
    """Show account ADDRESS (or the address of a key name)."""
    address = parse_address_arg(settings, address)
    result = checked_query(settings, f"/account/{address}")
    account = json.loads(result.value)
    emit(settings, account, "\n".join(f"{k}: {v}" for k, v in account.items()))


@query.command("balance")
@common_options
@click.argument("address")
@click.option("--denom", default="uusd", show_default=True)
@click.option("--prove", is_flag=True,
              help="Verify a Merkle proof under the validator-signed header of the next block.")
def q_balance(settings: Settings, address: str, denom: str, prove: bool) -> None:
    """Show the DENOM balance of ADDRESS (or of a key name)."""
    address = parse_address_arg(settings, address)
    result = checked_query(settings, f"/balance/{address}/{denom}", prove=prove)
    amount = int(result.value.decode() or "0")
    data: dict[str, Any] = {"address": address, "denom": denom, "amount": str(amount),
                            "height": result.height}
    text = coin_text(amount, denom)
    if prove:
        from chain.light import ProofFailure, verify_balance

        try:
            app_hash = verify_balance(settings.rpc(), address, denom, amount, result)
        except ProofFailure as exc:
            fail(settings, {**data, "verified": False}, f"PROOF FAILED: {exc}", exit_code=3)
        data.update(verified=True, app_hash=app_hash.hex().upper())
        text += (f"\nverified at height {result.height} (app hash {app_hash.hex().upper()} "
                 f"in header {result.height + 1}, signed by >2/3 of the validators)")
    emit(settings, data, text)


@query.group("oracle")
def q_oracle() -> None:
    """Oracle prices (stake-weighted medians of the validators' vote extensions)."""


@q_oracle.command("prices")
@common_options
@click.option("--prove", is_flag=True,
              help="Verify each price's Merkle proof under the validator-signed next header.")
def q_oracle_prices(settings: Settings, prove: bool) -> None:
    """Show the latest price of every underlying, with the height and block time it was set."""
    data = json.loads(checked_query(settings, "/oracle/prices").value)
    lines = [f"height {data['height']}"]
    for underlying, record in data["prices"].items():
        if record is None:
            lines.append(f"{underlying}: no price yet")
            continue
        line = f"{underlying}: {record['price']} (set at height {record['height']})"
        if prove:
            from chain.light import ProofFailure, verify_value
            from state.keys import oracle_price_key
            from state.oracle import PriceRecord

            result = checked_query(settings, f"/oracle/price/{underlying}", prove=True)
            proven = json.loads(result.value)
            raw = PriceRecord(int(proven["price_ticks"]), int(proven["height"]),
                              int(proven["time_ns"])).encode()
            try:
                verify_value(settings.rpc(), result, oracle_price_key(underlying), raw)
            except ProofFailure as exc:
                fail(settings, {**data, "verified": False}, f"PROOF FAILED: {exc}", exit_code=3)
            record.update(proven, verified=True, proof_height=result.height)
            line = (f"{underlying}: {proven['price']} (set at height {proven['height']}; "
                    f"verified at height {result.height})")
        lines.append(line)
    emit(settings, data, "\n".join(lines))


_DURATION = re.compile(r"(\d+)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in ``90``, ``90s``, ``30m``, ``2h`` or ``1d``."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 30m, 2h")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


@q_oracle.command("twap")
@common_options
@click.argument("underlying")
@click.option("--window", default="30m", show_default=True,
              help="Averaging window ending at the last block: 90s, 30m, 2h, ...")
def q_oracle_twap(settings: Settings, underlying: str, window: str) -> None:
    """Time-weighted average price of UNDERLYING over the window (rounded down)."""
    seconds = parse_duration(window)
    twap = json.loads(checked_query(settings, f"/oracle/twap/{underlying.upper()}/{seconds}").value)
    if twap is None:
        fail(settings, {"underlying": underlying.upper(), "twap": None},
             f"no price of {underlying.upper()} recorded yet", exit_code=2)
    covered = int(twap["covered_ns"]) / 1e9
    emit(settings, twap, f"{twap['underlying']} TWAP over {seconds}s: {twap['price']} "
                         f"({twap['observations']} observations covering {covered:g}s)")


@query.command("block-order")
@common_options
@click.argument("height", type=int)
@click.option("--prove", is_flag=True,
              help="Verify the stored beacon's Merkle proof under the next signed header.")
def q_block_order(settings: Settings, height: int, prove: bool) -> None:
    """Show block HEIGHT's VDF seed and output and its tx order, re-derived from the block."""
    import base64

    from chain import ordering

    result = checked_query(settings, f"/block_order/{height}", prove=prove)
    if not result.value:
        fail(settings, {"height": height}, f"no ordering recorded for height {height}")
    beacon = json.loads(result.value)
    block = settings.rpc().block(height)["block"]
    txs = [base64.b64decode(t) for t in block["data"]["txs"] or []]
    injected, user = ordering.split_block(txs)
    prev_app_hash = bytes.fromhex(block["header"]["app_hash"])
    seed = ordering.compute_block_seed(block["header"]["chain_id"], height, prev_app_hash, user)
    y = bytes.fromhex(beacon["y"])
    data: dict[str, Any] = {
        **beacon,
        "injected": [ordering.decode_injected_tx(t).WhichOneof("kind") for t in injected],
        "order": [ordering.hash_tx(t).hex().upper() for t in user],
        "seed_matches_block": seed.hex() == beacon["seed"],
        "order_matches_output": ordering.order_txs(y, user) == user,
    }
    if prove:
        from chain.light import ProofFailure, verify_value
        from state.beacon import Beacon
        from state.keys import beacon_key

        raw = Beacon(height, bytes.fromhex(beacon["seed"]), y, int(beacon["iterations"])).encode()
        try:
            verify_value(settings.rpc(), result, beacon_key(height), raw)
        except ProofFailure as exc:
            fail(settings, {**data, "verified": False}, f"PROOF FAILED: {exc}", exit_code=3)
        data["verified"] = True
    lines = [f"height {height}: T={beacon['iterations']}", f"seed {beacon['seed']}",
             f"y    {beacon['y'][:32]}…", f"injected txs: {', '.join(data['injected'])}",
             f"seed re-derived from the block: {'yes' if data['seed_matches_block'] else 'NO'}",
             f"order follows the VDF output: {'yes' if data['order_matches_output'] else 'NO'}",
             f"{len(user)} user txs in order:", *(f"  {h}" for h in data["order"])]
    if prove:
        lines.append(f"beacon verified at height {result.height}")
    emit(settings, data, "\n".join(lines))


@main.command("status")
@common_options
def status_cmd(settings: Settings) -> None:
    """Show the node's chain id, height and app hash."""
    status = settings.rpc().status()
    data = {"node": settings.node, "node_id": status.node_id, "moniker": status.moniker,
            "chain_id": status.network, "latest_height": status.latest_height,
            "latest_app_hash": status.latest_app_hash, "catching_up": status.catching_up}
    emit(settings, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


# --- transactions ---------------------------------------------------------------------


def parse_coin(text: str) -> tuple[int, str]:
    """``100uusd`` -> (100, "uusd")."""
    match = _AMOUNT.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not an amount like 100uusd")
    return int(match.group(1)), match.group(2)


@main.group()
def tx() -> None:
    """Sign and broadcast transactions."""


@tx.command("send")
@common_options
@click.argument("from_key")
@click.argument("to_address")
@click.argument("amount")
@click.option("--fee", default=None, help="Fee like 100uusd. Default: the chain's minimum fee.")
@click.option("--memo", default="", help="Free text stored with the transaction.")
@click.option("--timeout-height", type=int, default=0,
              help="Reject the transaction if not included by this height (0 = never).")
@click.option("--nonce", type=int, default=None, help="Default: the account's next nonce.")
@click.option("--chain-id", default=None, help="Default: the node's chain id.")
@click.option("--wait", is_flag=True, help="Wait until included and report the block result.")
@click.option("--wait-timeout", type=float, default=60.0, show_default=True)
def tx_send(settings: Settings, from_key: str, to_address: str, amount: str, fee: str | None,
            memo: str, timeout_height: int, nonce: int | None, chain_id: str | None,
            wait: bool, wait_timeout: float) -> None:
    """Send AMOUNT (e.g. 100uusd) from key FROM_KEY to TO_ADDRESS."""
    from chain.tx import build_send_tx

    parse_address(to_address)
    value, denom = parse_coin(amount)
    fee_amount = parse_fee(fee)
    ring = settings.keyring()
    sender = ring.show(from_key)
    rpc = settings.rpc()
    chain_id = chain_id or rpc.status().network
    fee_amount, nonce = fee_and_nonce(settings, sender.address, fee_amount, nonce)
    key = ring.private_key(from_key, passphrase(settings, f"Passphrase of {from_key}"))
    raw = build_send_tx(key, chain_id=chain_id, nonce=nonce, to=to_address, amount=value,
                        denom=denom, fee=fee_amount, memo=memo, timeout_height=timeout_height)
    broadcast_and_report(settings, rpc, raw, {"from": sender.address, "to": to_address,
                                              "amount": amount, "nonce": nonce},
                         wait, wait_timeout)


def parse_fee(fee: str | None) -> int | None:
    """``--fee`` as uusd micro-units (None when not given)."""
    from state.denoms import FEE_DENOM

    if not fee:
        return None
    amount, denom = parse_coin(fee)
    if denom != FEE_DENOM:
        raise click.BadParameter(f"fees are paid in {FEE_DENOM}", param_hint="--fee")
    return amount


def fee_and_nonce(settings: Settings, address: str, fee: int | None,
                  nonce: int | None) -> tuple[int, int]:
    """Fill in the defaults: the chain's minimum fee, and the account's next nonce counting
    this node's mempool (so back-to-back transactions do not collide)."""
    if nonce is None:
        account = json.loads(checked_query(settings, f"/account/{address}").value)
        nonce = int(account.get("pending_next_nonce", account["next_nonce"]))
    if fee is None:
        fee = int(json.loads(checked_query(settings, "/params").value)["min_fee_uusd"])
    return fee, nonce


def broadcast_and_report(settings: Settings, rpc: RPCClient, raw: bytes, data: dict[str, Any],
                         wait: bool, wait_timeout: float) -> None:
    """Broadcast a signed tx; fail with the numbered error if CheckTx or the block rejects
    it; with ``wait``, report the block that included it."""
    sent = rpc.broadcast_tx_sync(raw)
    data = {"hash": sent.hash, "code": sent.code, **data}
    if sent.code != 0:
        fail(settings, {**data, "stage": "check_tx"},
             "rejected by the node: " + format_chain_error(sent.code, sent.log, sent.codespace))
    if not wait:
        emit(settings, data, f"broadcast {sent.hash} (nonce {data['nonce']}); "
                             "not waiting for a block")
        return
    included = rpc.wait_for_tx(sent.hash, timeout=wait_timeout)
    data.update(code=included.code, height=included.height, gas_used=included.gas_used)
    if included.code != 0:
        fail(settings, {**data, "stage": "block"},
             f"failed in block {included.height}: "
             + format_chain_error(included.code, included.log, included.codespace))
    emit(settings, data, f"included in block {included.height}: {sent.hash} (code 0)")


# --- node -----------------------------------------------------------------------------


@main.group()
def node() -> None:
    """Run the Optio application of one validator."""


@node.command("start")
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Node home: reads config/app.toml (abci_address, db_path, log_level).")
def node_start(home: Path) -> None:
    """Run the ABCI application for the CometBFT node sharing HOME (foreground)."""
    from chain.node import run_node

    run_node(home.expanduser().resolve())


main.add_command(localnet)

# chain/cli_staking.py builds its commands from this module's helpers (passed in, so it never
# imports this module, which may be running as __main__).
_staking_tx, _staking_q = staking_groups(sys.modules[__name__])
tx.add_command(_staking_tx)
query.add_command(_staking_q)

if __name__ == "__main__":
    main()
