from chain.proto import oracle_pb2 as _oracle_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InjectedTx(_message.Message):
    __slots__ = ("ordering", "oracle")
    ORDERING_FIELD_NUMBER: _ClassVar[int]
    ORACLE_FIELD_NUMBER: _ClassVar[int]
    ordering: OrderingTx
    oracle: _oracle_pb2.OracleTx
    def __init__(self, ordering: _Optional[_Union[OrderingTx, _Mapping]] = ..., oracle: _Optional[_Union[_oracle_pb2.OracleTx, _Mapping]] = ...) -> None: ...

class OrderingTx(_message.Message):
    __slots__ = ("y", "proof", "iterations")
    Y_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    y: bytes
    proof: bytes
    iterations: int
    def __init__(self, y: _Optional[bytes] = ..., proof: _Optional[bytes] = ..., iterations: _Optional[int] = ...) -> None: ...
