from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OracleTx(_message.Message):
    __slots__ = ("round", "votes")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    round: int
    votes: _containers.RepeatedCompositeFieldContainer[OracleVote]
    def __init__(self, round: _Optional[int] = ..., votes: _Optional[_Iterable[_Union[OracleVote, _Mapping]]] = ...) -> None: ...

class OracleVote(_message.Message):
    __slots__ = ("validator_address", "power", "vote_extension", "extension_signature", "block_id_flag")
    VALIDATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    VOTE_EXTENSION_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_ID_FLAG_FIELD_NUMBER: _ClassVar[int]
    validator_address: bytes
    power: int
    vote_extension: bytes
    extension_signature: bytes
    block_id_flag: int
    def __init__(self, validator_address: _Optional[bytes] = ..., power: _Optional[int] = ..., vote_extension: _Optional[bytes] = ..., extension_signature: _Optional[bytes] = ..., block_id_flag: _Optional[int] = ...) -> None: ...
