"""The error tree: stable unique codes, documented in docs/errors.md, trader-readable messages."""

from __future__ import annotations

import re
from pathlib import Path

from state.errors import (
    CODE_INTERNAL,
    CODE_OK,
    CODES,
    GenesisError,
    InsufficientFunds,
    InvalidQueryKey,
    OptioError,
    QueryError,
    QueryHeightUnavailable,
    UnknownQueryPath,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"

# Frozen copy of the published numbering: editing it means breaking clients.
PUBLISHED = {
    2: "MalformedTx", 3: "TxTooLarge", 4: "NonCanonicalTx", 5: "EmptyTx", 6: "UnknownMessage",
    7: "TooManyMessages", 8: "WrongChainId", 9: "InvalidPublicKey", 10: "InvalidSignature",
    11: "SignerMismatch", 12: "InvalidAddress", 13: "MemoTooLong", 14: "InvalidAmount",
    15: "UnknownDenom", 16: "InvalidFeeDenom", 17: "InvalidNonce", 30: "TxExpired",
    31: "NonceReplayed", 32: "NonceTooOld", 33: "NonceTooFarAhead", 34: "FeeBelowMinimum",
    35: "InsufficientFunds", 60: "GenesisError", 61: "GenesisInvalidAddress",
    62: "GenesisDuplicateAccount", 63: "GenesisInvalidBalance", 64: "GenesisUnknownDenom",
    65: "GenesisUnknownParam", 66: "GenesisInvalidParam", 67: "GenesisSupplyOverflow",
    40: "InvalidConsensusKey", 41: "InvalidCommission", 42: "InvalidMoniker",
    43: "SelfRedelegation", 44: "WrongStakingDenom", 45: "UnknownValidator",
    46: "ValidatorExists", 47: "DuplicateConsensusKey", 48: "BelowMinSelfDelegation",
    49: "ValidatorJailed", 50: "ValidatorTombstoned", 51: "ValidatorNotJailed",
    52: "JailPeriodNotOver", 53: "InsufficientDelegation", 54: "TooManyUnbondingEntries",
    55: "NoDelegation", 56: "TransitiveRedelegation", 57: "ValidatorInsolvent",
    58: "DelegationTooSmall", 59: "ModuleAccountRecipient", 68: "GenesisInvalidValidator",
    80: "InjectedTxNotAllowed", 100: "UnknownQueryPath", 101: "InvalidQueryKey", 102: "QueryHeightUnavailable",
}  # fmt: skip


def test_published_codes_never_change() -> None:
    current = {code: cls.__name__ for code, cls in CODES.items()}
    for code, name in PUBLISHED.items():
        assert current.get(code) == name, f"code {code} must stay {name}"


def test_codes_are_unique_and_avoid_ok_and_internal() -> None:
    assert CODE_OK not in CODES and CODE_INTERNAL not in CODES
    assert len({cls.code for cls in CODES.values()}) == len(CODES)
    assert all(issubclass(cls, OptioError) and cls.codespace == "optio" for cls in CODES.values())


def test_docs_table_lists_exactly_the_codes_in_the_tree() -> None:
    rows = re.findall(r"^\| (\d+) \| (\w+) \|", DOC.read_text(), flags=re.MULTILINE)
    documented = {int(code): name for code, name in rows if int(code) > CODE_INTERNAL}
    assert documented == {code: cls.__name__ for code, cls in CODES.items()}


def test_insufficient_funds_message_shows_the_arithmetic() -> None:
    error = InsufficientFunds("optio1abc", "uusd", balance=5, amount=10, fee=2)
    assert error.message == "insufficient funds: account optio1abc has 5 uusd, needs 12 uusd (amount 10 + fee 2)"
    assert str(error) == error.message
    assert (error.balance, error.amount, error.fee) == (5, 10, 2)


def test_query_errors_form_their_own_family() -> None:
    errors = [
        UnknownQueryPath("/nope"),
        InvalidQueryKey("/balance", "not an address"),
        QueryHeightUnavailable(3, 9),
    ]
    assert [e.code for e in errors] == [100, 101, 102]
    assert all(isinstance(e, QueryError) for e in errors)
    assert "unknown query path '/nope'" in errors[0].message
    assert "only the latest committed height 9" in errors[2].message


def test_genesis_errors_name_the_json_path() -> None:
    error = GenesisError("app_state.accounts[2].address", "bad checksum")
    assert error.message == "invalid genesis at app_state.accounts[2].address: bad checksum"
