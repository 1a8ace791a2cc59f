from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tx(_message.Message):
    __slots__ = ("body", "pub_key", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    pub_key: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., pub_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class TxBody(_message.Message):
    __slots__ = ("chain_id", "nonce", "fee", "memo", "timeout_height", "messages")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    nonce: int
    fee: Coin
    memo: str
    timeout_height: int
    messages: _containers.RepeatedCompositeFieldContainer[Msg]
    def __init__(self, chain_id: _Optional[str] = ..., nonce: _Optional[int] = ..., fee: _Optional[_Union[Coin, _Mapping]] = ..., memo: _Optional[str] = ..., timeout_height: _Optional[int] = ..., messages: _Optional[_Iterable[_Union[Msg, _Mapping]]] = ...) -> None: ...

class Msg(_message.Message):
    __slots__ = ("send", "create_validator", "edit_validator", "delegate", "undelegate", "redelegate", "unjail", "withdraw_rewards")
    SEND_FIELD_NUMBER: _ClassVar[int]
    CREATE_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    EDIT_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    DELEGATE_FIELD_NUMBER: _ClassVar[int]
    UNDELEGATE_FIELD_NUMBER: _ClassVar[int]
    REDELEGATE_FIELD_NUMBER: _ClassVar[int]
    UNJAIL_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_REWARDS_FIELD_NUMBER: _ClassVar[int]
    send: MsgSend
    create_validator: MsgCreateValidator
    edit_validator: MsgEditValidator
    delegate: MsgDelegate
    undelegate: MsgUndelegate
    redelegate: MsgRedelegate
    unjail: MsgUnjail
    withdraw_rewards: MsgWithdrawRewards
    def __init__(self, send: _Optional[_Union[MsgSend, _Mapping]] = ..., create_validator: _Optional[_Union[MsgCreateValidator, _Mapping]] = ..., edit_validator: _Optional[_Union[MsgEditValidator, _Mapping]] = ..., delegate: _Optional[_Union[MsgDelegate, _Mapping]] = ..., undelegate: _Optional[_Union[MsgUndelegate, _Mapping]] = ..., redelegate: _Optional[_Union[MsgRedelegate, _Mapping]] = ..., unjail: _Optional[_Union[MsgUnjail, _Mapping]] = ..., withdraw_rewards: _Optional[_Union[MsgWithdrawRewards, _Mapping]] = ...) -> None: ...

class MsgCreateValidator(_message.Message):
    __slots__ = ("operator_address", "consensus_pub_key", "commission_ppm", "moniker", "self_bond")
    OPERATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_PUB_KEY_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_PPM_FIELD_NUMBER: _ClassVar[int]
    MONIKER_FIELD_NUMBER: _ClassVar[int]
    SELF_BOND_FIELD_NUMBER: _ClassVar[int]
    operator_address: str
    consensus_pub_key: bytes
    commission_ppm: int
    moniker: str
    self_bond: Coin
    def __init__(self, operator_address: _Optional[str] = ..., consensus_pub_key: _Optional[bytes] = ..., commission_ppm: _Optional[int] = ..., moniker: _Optional[str] = ..., self_bond: _Optional[_Union[Coin, _Mapping]] = ...) -> None: ...

class MsgEditValidator(_message.Message):
    __slots__ = ("operator_address", "moniker", "commission_ppm")
    OPERATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MONIKER_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_PPM_FIELD_NUMBER: _ClassVar[int]
    operator_address: str
    moniker: str
    commission_ppm: int
    def __init__(self, operator_address: _Optional[str] = ..., moniker: _Optional[str] = ..., commission_ppm: _Optional[int] = ...) -> None: ...

class MsgDelegate(_message.Message):
    __slots__ = ("delegator_address", "validator_address", "amount")
    DELEGATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    delegator_address: str
    validator_address: str
    amount: Coin
    def __init__(self, delegator_address: _Optional[str] = ..., validator_address: _Optional[str] = ..., amount: _Optional[_Union[Coin, _Mapping]] = ...) -> None: ...

class MsgUndelegate(_message.Message):
    __slots__ = ("delegator_address", "validator_address", "amount")
    DELEGATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    delegator_address: str
    validator_address: str
    amount: Coin
    def __init__(self, delegator_address: _Optional[str] = ..., validator_address: _Optional[str] = ..., amount: _Optional[_Union[Coin, _Mapping]] = ...) -> None: ...

class MsgRedelegate(_message.Message):
    __slots__ = ("delegator_address", "src_validator_address", "dst_validator_address", "amount")
    DELEGATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SRC_VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DST_VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    delegator_address: str
    src_validator_address: str
    dst_validator_address: str
    amount: Coin
    def __init__(self, delegator_address: _Optional[str] = ..., src_validator_address: _Optional[str] = ..., dst_validator_address: _Optional[str] = ..., amount: _Optional[_Union[Coin, _Mapping]] = ...) -> None: ...

class MsgUnjail(_message.Message):
    __slots__ = ("validator_address",)
    VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    validator_address: str
    def __init__(self, validator_address: _Optional[str] = ...) -> None: ...

class MsgWithdrawRewards(_message.Message):
    __slots__ = ("delegator_address", "validator_address")
    DELEGATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    delegator_address: str
    validator_address: str
    def __init__(self, delegator_address: _Optional[str] = ..., validator_address: _Optional[str] = ...) -> None: ...

class MsgSend(_message.Message):
    __slots__ = ("from_address", "to_address", "amount")
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    from_address: str
    to_address: str
    amount: Coin
    def __init__(self, from_address: _Optional[str] = ..., to_address: _Optional[str] = ..., amount: _Optional[_Union[Coin, _Mapping]] = ...) -> None: ...

class Coin(_message.Message):
    __slots__ = ("denom", "amount")
    DENOM_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    denom: str
    amount: str
    def __init__(self, denom: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...
