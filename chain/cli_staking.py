"""`optio tx staking …` and `optio q staking …`: bond, delegate, unbond, unjail, rewards.

Built by `staking_groups(cli_module)` and registered on the `tx` and `q` groups at the bottom
of chain/cli.py, which passes itself in: importing chain/cli.py from here would be circular
(and, under `python -m chain.cli`, a second copy of it). Amounts are given like
`100000000uopt`; validators are named by their operator address (or a key name). The
consensus key of create-validator is read from a CometBFT `priv_validator_key.json`
(`--consensus-key-file`, default `<node home>/config/priv_validator_key.json`) or given as
base64 (`--pubkey`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from chain.address import parse_address
from state.errors import WrongStakingDenom

if TYPE_CHECKING:
    from chain.cli import Settings


def read_consensus_pub_key(path: Path) -> bytes:
    """The ed25519 public key of a CometBFT priv_validator_key.json."""
    data = json.loads(path.read_text())
    return base64.b64decode(data["pub_key"]["value"])


def staking_groups(cli: ModuleType) -> tuple[click.Group, click.Group]:
    """The `tx staking` and `q staking` command groups, built on chain/cli.py's helpers."""
    broadcast_and_report = cli.broadcast_and_report
    checked_query = cli.checked_query
    fee_and_nonce = cli.fee_and_nonce
    parse_fee = cli.parse_fee
    common_options = cli.common_options
    emit = cli.emit
    fail = cli.fail
    parse_address_arg = cli.parse_address_arg
    parse_coin = cli.parse_coin
    passphrase = cli.passphrase

    _TX_OPTIONS = [
        click.option("--fee", default=None, help="Fee like 100uusd. Default: the chain's minimum fee."),
        click.option("--wait", is_flag=True, help="Wait until included and report the block result."),
        click.option("--wait-timeout", type=float, default=60.0, show_default=True),
    ]


    def _tx_options(func: Any) -> Any:
        for option in reversed(_TX_OPTIONS):
            func = option(func)
        return common_options(func)


    def _uopt(text: str) -> int:
        value, denom = parse_coin(text)
        if denom != "uopt":
            raise WrongStakingDenom(denom, "uopt")
        return value


    def broadcast_staking(
        settings: Settings, from_key: str, kind: str, fields: dict[str, Any], fee: str | None,
        wait: bool, wait_timeout: float,
    ) -> None:
        """Sign one staking message with FROM_KEY, broadcast it, report (and optionally wait)."""
        from chain.tx import build_msgs_tx, build_staking_msg

        fee_amount = parse_fee(fee)
        ring = settings.keyring()
        signer = ring.show(from_key)
        rpc = settings.rpc()
        chain_id = rpc.status().network
        fee_amount, nonce = fee_and_nonce(settings, signer.address, fee_amount, None)
        filled = {k: (signer.address if v is None else v) for k, v in fields.items()}
        key = ring.private_key(from_key, passphrase(settings, f"Passphrase of {from_key}"))
        raw = build_msgs_tx(key, [build_staking_msg(kind, **filled)], chain_id=chain_id,
                            nonce=nonce, fee=fee_amount)
        broadcast_and_report(settings, rpc, raw,
                             {"from": signer.address, "msg": kind, "nonce": nonce},
                             wait, wait_timeout)


    @click.group("staking")
    def staking_tx() -> None:
        """Bond, delegate, unbond, redelegate, unjail, withdraw rewards."""


    @staking_tx.command("create-validator")
    @_tx_options
    @click.argument("from_key")
    @click.argument("self_bond")
    @click.option("--moniker", required=True)
    @click.option("--commission-ppm", type=int, default=50_000, show_default=True,
                  help="Commission on delegators' rewards in parts per million (50000 = 5%).")
    @click.option("--consensus-key-file", type=click.Path(path_type=Path, dir_okay=False),
                  default=None, help="CometBFT priv_validator_key.json of the node.")
    @click.option("--node-home", type=click.Path(path_type=Path, file_okay=False), default=None,
                  help="CometBFT home whose config/priv_validator_key.json to use.")
    @click.option("--pubkey", default=None, help="Consensus public key, base64.")
    def tx_create_validator(settings: Settings, from_key: str, self_bond: str, moniker: str,
                            commission_ppm: int, consensus_key_file: Path | None,
                            node_home: Path | None, pubkey: str | None, fee: str | None,
                            wait: bool, wait_timeout: float) -> None:
        """Make FROM_KEY a validator operator, bonding SELF_BOND (e.g. 100000000uopt)."""
        if pubkey:
            key = base64.b64decode(pubkey)
        else:
            path = consensus_key_file or (
                node_home / "config" / "priv_validator_key.json" if node_home else None)
            if path is None:
                raise click.UsageError("give --consensus-key-file, --node-home or --pubkey")
            key = read_consensus_pub_key(path)
        broadcast_staking(settings, from_key, "create_validator", {
            "operator_address": None, "consensus_pub_key": key, "commission_ppm": commission_ppm,
            "moniker": moniker, "self_bond": _uopt(self_bond)}, fee, wait, wait_timeout)


    @staking_tx.command("edit-validator")
    @_tx_options
    @click.argument("from_key")
    @click.option("--moniker", default=None)
    @click.option("--commission-ppm", type=int, default=None)
    def tx_edit_validator(settings: Settings, from_key: str, moniker: str | None,
                          commission_ppm: int | None, fee: str | None, wait: bool,
                          wait_timeout: float) -> None:
        """Change the moniker and/or commission of FROM_KEY's validator."""
        fields: dict[str, Any] = {"operator_address": None}
        if moniker is not None:
            fields["moniker"] = moniker
        if commission_ppm is not None:
            fields["commission_ppm"] = commission_ppm
        broadcast_staking(settings, from_key, "edit_validator", fields, fee, wait, wait_timeout)


    def _delegation_command(name: str, kind: str, doc: str) -> None:
        @staking_tx.command(name, help=doc)
        @_tx_options
        @click.argument("from_key")
        @click.argument("validator")
        @click.argument("amount")
        def command(settings: Settings, from_key: str, validator: str, amount: str,
                    fee: str | None, wait: bool, wait_timeout: float) -> None:
            broadcast_staking(settings, from_key, kind, {
                "delegator_address": None,
                "validator_address": parse_address_arg(settings, validator),
                "amount": _uopt(amount)}, fee, wait, wait_timeout)


    _delegation_command("delegate", "delegate",
                        "Bond AMOUNT uopt of FROM_KEY to VALIDATOR (operator address); e.g. 5000000uopt.")
    _delegation_command("undelegate", "undelegate",
                        "Start unbonding AMOUNT of FROM_KEY from VALIDATOR (paid after the "
                        "unbonding time).")


    @staking_tx.command("redelegate")
    @_tx_options
    @click.argument("from_key")
    @click.argument("src_validator")
    @click.argument("dst_validator")
    @click.argument("amount")
    def tx_redelegate(settings: Settings, from_key: str, src_validator: str, dst_validator: str,
                      amount: str, fee: str | None, wait: bool, wait_timeout: float) -> None:
        """Move AMOUNT of FROM_KEY's stake from SRC_VALIDATOR to DST_VALIDATOR at once."""
        broadcast_staking(settings, from_key, "redelegate", {
            "delegator_address": None,
            "src_validator_address": parse_address_arg(settings, src_validator),
            "dst_validator_address": parse_address_arg(settings, dst_validator),
            "amount": _uopt(amount)}, fee, wait, wait_timeout)


    @staking_tx.command("unjail")
    @_tx_options
    @click.argument("from_key")
    def tx_unjail(settings: Settings, from_key: str, fee: str | None, wait: bool,
                  wait_timeout: float) -> None:
        """Unjail FROM_KEY's validator after its jail period."""
        broadcast_staking(settings, from_key, "unjail", {"validator_address": None}, fee, wait,
                          wait_timeout)


    @staking_tx.command("withdraw-rewards")
    @_tx_options
    @click.argument("from_key")
    @click.argument("validator")
    def tx_withdraw_rewards(settings: Settings, from_key: str, validator: str, fee: str | None,
                            wait: bool, wait_timeout: float) -> None:
        """Withdraw FROM_KEY's rewards from VALIDATOR (and its commission, for the operator)."""
        broadcast_staking(settings, from_key, "withdraw_rewards", {
            "delegator_address": None,
            "validator_address": parse_address_arg(settings, validator)}, fee, wait, wait_timeout)


    # --- queries ----------------------------------------------------------------------------


    @click.group("staking")
    def staking_q() -> None:
        """Validators, delegations, unbonding entries, rewards."""


    def _show(settings: Settings, path: str) -> Any:
        value = json.loads(checked_query(settings, path).value or b"null")
        emit(settings, {"result": value} if isinstance(value, list) else value,
             json.dumps(value, indent=2))
        return value


    @staking_q.command("validators")
    @common_options
    def q_validators(settings: Settings) -> None:
        """Every validator with status, power, commission and jail state."""
        _show(settings, "/staking/validators")


    @staking_q.command("validator")
    @common_options
    @click.argument("validator")
    @click.option("--prove", is_flag=True,
                  help="Verify a Merkle proof under the validator-signed header of the next block.")
    def q_validator(settings: Settings, validator: str, prove: bool) -> None:
        """One validator (by operator address or key name)."""
        from chain.light import ProofFailure, verify_value
        from chain.query_staking import validator_json
        from state.keys import validator_key
        from state.staking import ValidatorRecord

        address = parse_address_arg(settings, validator)
        result = checked_query(settings, f"/staking/validator/{address}", prove=prove)
        if not result.value:
            fail(settings, {"validator": address}, f"no validator is operated by {address}")
        reduction = int(json.loads(checked_query(settings, "/params").value)["power_reduction"])
        data = validator_json(ValidatorRecord.decode(result.value), reduction)
        if prove:
            try:
                app_hash = verify_value(settings.rpc(), result,
                                        validator_key(parse_address(address)), result.value)
            except ProofFailure as exc:
                fail(settings, {**data, "verified": False}, f"PROOF FAILED: {exc}", exit_code=3)
            data.update(verified=True, height=result.height, app_hash=app_hash.hex().upper())
        emit(settings, data, json.dumps(data, indent=2))

    @staking_q.command("delegations")
    @common_options
    @click.argument("delegator")
    def q_delegations(settings: Settings, delegator: str) -> None:
        """DELEGATOR's delegations with their token value and pending rewards."""
        _show(settings, f"/staking/delegations/{parse_address_arg(settings, delegator)}")


    @staking_q.command("unbonding")
    @common_options
    @click.argument("delegator")
    def q_unbonding(settings: Settings, delegator: str) -> None:
        """DELEGATOR's pending unbonding entries."""
        _show(settings, f"/staking/unbonding/{parse_address_arg(settings, delegator)}")


    @staking_q.command("redelegations")
    @common_options
    @click.argument("delegator")
    def q_redelegations(settings: Settings, delegator: str) -> None:
        """DELEGATOR's maturing redelegations."""
        _show(settings, f"/staking/redelegations/{parse_address_arg(settings, delegator)}")


    @staking_q.command("rewards")
    @common_options
    @click.argument("delegator")
    @click.argument("validator")
    def q_rewards(settings: Settings, delegator: str, validator: str) -> None:
        """DELEGATOR's pending rewards at VALIDATOR (and commission for its operator)."""
        _show(settings, f"/staking/rewards/{parse_address_arg(settings, delegator)}/"
                        f"{parse_address_arg(settings, validator)}")


    @staking_q.command("validator-set")
    @common_options
    def q_validator_set(settings: Settings) -> None:
        """The consensus set that signs the next block."""
        _show(settings, "/staking/validator_set")


    @staking_q.command("signing-info")
    @common_options
    @click.argument("validator")
    def q_signing_info(settings: Settings, validator: str) -> None:
        """VALIDATOR's liveness window (blocks counted, missed)."""
        _show(settings, f"/staking/signing_info/{parse_address_arg(settings, validator)}")


    @staking_q.command("pools")
    @common_options
    def q_pools(settings: Settings) -> None:
        """Balances of the staking, unbonding and rewards pools."""
        _show(settings, "/staking/pools")

    return staking_tx, staking_q
