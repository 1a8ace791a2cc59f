"""The ABCI server over real sockets: pipelined requests answered in order, Flush batching,
default answers, garbled or oversize frames closing only their connection, app failures stopping
the server (and, through `run`, the process with a non-zero status)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from abci.framing import FrameDecoder, encode_frame, encode_uvarint
from abci.proto import abci_pb2 as pb
from abci.server import ABCIServer, AppCrashed, parse_address

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0


class EchoingApp:
    """Answers CheckTx with code = first byte of the tx, and remembers every call it got."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def info(self, request: pb.RequestInfo) -> pb.ResponseInfo:
        self.calls.append("info")
        return pb.ResponseInfo(data="tiny", last_block_height=7, last_block_app_hash=b"\x07")

    def check_tx(self, request: pb.RequestCheckTx) -> pb.ResponseCheckTx:
        self.calls.append("check_tx")
        return pb.ResponseCheckTx(code=request.tx[0], log=request.tx.hex())

    def query(self, request: pb.RequestQuery) -> pb.ResponseQuery:
        self.calls.append("query")
        if request.path == "/boom":
            raise RuntimeError("query handler bug")
        return pb.ResponseQuery(key=request.data, value=b"v", height=3)


def _frame(request: pb.Request) -> bytes:
    return encode_frame(request.SerializeToString())


def _flush() -> bytes:
    return _frame(pb.Request(flush=pb.RequestFlush()))


class Client:
    """A minimal CometBFT-like socket client used to drive the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, count: int) -> list[pb.Response]:
        out: list[pb.Response] = []
        while len(out) < count:
            while len(out) < count and (frame := self.decoder.next_frame()) is not None:
                out.append(pb.Response.FromString(frame))
            if len(out) < count:
                data = await self.reader.read(65536)
                assert data, f"connection closed after {len(out)} of {count} answers"
                self.decoder.feed(data)
        return out

    async def raw_frames(self, count: int) -> list[bytes]:
        out: list[bytes] = []
        while len(out) < count:
            frame = self.decoder.next_frame()
            if frame is None:
                data = await self.reader.read(65536)
                assert data, "connection closed early"
                self.decoder.feed(data)
            else:
                out.append(frame)
        return out

    async def is_closed_by_server(self) -> bool:
        return await self.reader.read(65536) == b""

    async def aclose(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _connect(address: str) -> Client:
    parsed = parse_address(address)
    if parsed.scheme == "unix":
        reader, writer = await asyncio.open_unix_connection(parsed.path)
    else:
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    return Client(reader, writer)


def _with_server(
    app: object,
    body: Callable[[ABCIServer], Awaitable[None]],
    address: str = "tcp://127.0.0.1:0",
    **kwargs: int,
) -> None:
    async def main() -> None:
        server = ABCIServer(app, address, **kwargs)
        await server.start()
        try:
            await asyncio.wait_for(body(server), TIMEOUT)
        finally:
            await server.stop()

    asyncio.run(main())


def test_pipelined_requests_are_answered_in_order_and_flush_is_answered() -> None:
    app = EchoingApp()
    requests = [pb.Request(echo=pb.RequestEcho(message="hello")), pb.Request(info=pb.RequestInfo())]
    requests += [pb.Request(check_tx=pb.RequestCheckTx(tx=bytes([i, 9]))) for i in range(200)]
    requests += [pb.Request(query=pb.RequestQuery(data=b"k", path="/p"))]

    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(b"".join(_frame(r) for r in requests) + _flush())
        answers = await client.receive(len(requests) + 1)
        assert answers[0].echo.message == "hello"
        assert answers[1].info == pb.ResponseInfo(
            data="tiny", last_block_height=7, last_block_app_hash=b"\x07"
        )
        assert [a.check_tx.code for a in answers[2:202]] == list(range(200))
        assert [a.check_tx.log for a in answers[2:202]] == [bytes([i, 9]).hex() for i in range(200)]
        assert answers[202].query.value == b"v"
        assert answers[203].WhichOneof("value") == "flush"
        await client.aclose()

    _with_server(app, body)
    assert app.calls == ["info"] + ["check_tx"] * 200 + ["query"]


def test_answers_are_byte_identical_to_protobuf_envelope_serialization() -> None:
    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(_frame(pb.Request(check_tx=pb.RequestCheckTx(tx=b"\x05abc"))) + _flush())
        check_tx, flush = await client.raw_frames(2)
        expected = pb.Response(check_tx=pb.ResponseCheckTx(code=5, log=b"\x05abc".hex()))
        assert check_tx == expected.SerializeToString()
        assert flush == pb.Response(flush=pb.ResponseFlush()).SerializeToString()
        await client.aclose()

    _with_server(EchoingApp(), body)


def test_frames_larger_than_one_socket_read_are_reassembled() -> None:
    big_tx = bytes([42]) + bytes(range(256)) * 12_000

    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(_frame(pb.Request(check_tx=pb.RequestCheckTx(tx=big_tx))) + _flush())
        answer, _ = await client.receive(2)
        assert answer.check_tx.code == 42
        assert answer.check_tx.log == big_tx.hex()
        await client.aclose()

    _with_server(EchoingApp(), body)


def test_methods_the_app_lacks_get_the_default_empty_response() -> None:
    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(
            _frame(pb.Request(list_snapshots=pb.RequestListSnapshots()))
            + _frame(pb.Request(commit=pb.RequestCommit()))
            + _flush()
        )
        snapshots, commit, _ = await client.receive(3)
        assert snapshots.WhichOneof("value") == "list_snapshots"
        assert snapshots.list_snapshots == pb.ResponseListSnapshots()
        assert commit.WhichOneof("value") == "commit"
        await client.aclose()

    _with_server(EchoingApp(), body)


def test_every_request_kind_is_answered_with_the_matching_response_kind() -> None:
    fields = pb.Request.DESCRIPTOR.oneofs_by_name["value"].fields
    kinds = [f.name for f in fields]
    assert len(kinds) == 16
    message_names = [f.message_type.name if f.message_type else "" for f in fields]
    requests = [
        pb.Request(**{k: getattr(pb, m)()}) for k, m in zip(kinds, message_names, strict=True)
    ]

    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(b"".join(_frame(r) for r in requests) + _flush())
        answers = await client.receive(len(requests) + 1)
        assert [a.WhichOneof("value") for a in answers] == [*kinds, "flush"]
        await client.aclose()

    _with_server(object(), body)


def test_four_connections_each_get_their_own_answers_in_order() -> None:
    async def body(server: ABCIServer) -> None:
        clients = [await _connect(server.address) for _ in range(4)]
        for n, client in enumerate(clients):
            txs = [bytes([n * 50 + i]) for i in range(50)]
            await client.send(
                b"".join(_frame(pb.Request(check_tx=pb.RequestCheckTx(tx=t))) for t in txs)
            )
        for client in clients:
            await client.send(_flush())
        for n, client in enumerate(clients):
            answers = await client.receive(51)
            assert [a.check_tx.code for a in answers[:50]] == [n * 50 + i for i in range(50)]
            await client.aclose()

    _with_server(EchoingApp(), body)


class SlowProposalApp(EchoingApp):
    """PrepareProposal answers only when the test releases it (an awaitable response), as the
    Optio app does while its VDF runs in a worker thread."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    def prepare_proposal(self, request: pb.RequestPrepareProposal) -> object:
        self.calls.append("prepare_proposal")

        async def answer() -> pb.ResponsePrepareProposal:
            await self.release.wait()
            return pb.ResponsePrepareProposal(txs=list(request.txs))

        return answer()


def test_an_awaitable_answer_lets_other_connections_proceed_and_keeps_its_own_order() -> None:
    app = SlowProposalApp()

    async def body(server: ABCIServer) -> None:
        consensus, mempool = await _connect(server.address), await _connect(server.address)
        prepare = pb.Request(prepare_proposal=pb.RequestPrepareProposal(txs=[b"a", b"b"]))
        await consensus.send(_frame(prepare) + _flush() + _frame(pb.Request(info=pb.RequestInfo()))
                             + _flush())
        # While the proposal is pending, CheckTx on another connection is answered.
        await mempool.send(_frame(pb.Request(check_tx=pb.RequestCheckTx(tx=b"\x05"))) + _flush())
        (checked, _) = await mempool.receive(2)
        assert checked.check_tx.code == 5
        assert app.calls == ["prepare_proposal", "check_tx"]  # info waits behind the proposal
        app.release.set()
        answers = await consensus.receive(4)
        assert [a.WhichOneof("value") for a in answers] == [
            "prepare_proposal", "flush", "info", "flush"]
        assert list(answers[0].prepare_proposal.txs) == [b"a", b"b"]
        await consensus.aclose()
        await mempool.aclose()

    _with_server(app, body)


def test_requests_buffered_behind_a_flush_are_answered_in_the_same_write() -> None:
    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        pairs = b"".join(
            _frame(pb.Request(check_tx=pb.RequestCheckTx(tx=bytes([i])))) + _flush()
            for i in range(20)
        )
        await client.send(pairs)
        flush_answer = encode_frame(pb.Response(flush=pb.ResponseFlush()).SerializeToString())
        expected = b"".join(_answer_frame(i) + flush_answer for i in range(20))
        chunks = []
        while sum(map(len, chunks)) < len(expected):
            chunk = await client.reader.read(65536)
            assert chunk
            chunks.append(chunk)
        assert b"".join(chunks) == expected
        # One write by the server for all 20 answers (a loopback read then gets it whole).
        assert len(chunks) == 1
        await client.aclose()

    _with_server(EchoingApp(), body)


class BatchingApp(EchoingApp):
    """Has `check_tx_batch`, which records the size of every batch; with `awaitable` it answers
    through a coroutine, as the Optio app does when worker threads verify signatures."""

    def __init__(self, *, awaitable: bool) -> None:
        super().__init__()
        self.awaitable = awaitable
        self.batches: list[int] = []

    def check_tx_batch(self, requests: list[pb.RequestCheckTx]) -> object:
        self.batches.append(len(requests))
        answers = [self.check_tx(r) for r in requests]
        if not self.awaitable:
            return answers

        async def later() -> list[pb.ResponseCheckTx]:
            await asyncio.sleep(0)
            return answers

        return later()


@pytest.mark.parametrize("awaitable", [False, True])
def test_check_tx_runs_buffered_together_go_to_check_tx_batch_with_flushes_kept_in_place(
    awaitable: bool,
) -> None:
    """CheckTx requests read together, Flushes between them included, are one batch; any other
    request ends the run. Every answer, flushes too, comes back in request order."""
    app = BatchingApp(awaitable=awaitable)
    check = [_frame(pb.Request(check_tx=pb.RequestCheckTx(tx=bytes([i])))) for i in range(7)]
    info = _frame(pb.Request(info=pb.RequestInfo()))
    stream = (check[0] + check[1] + _flush() + check[2] + _flush() + info + check[3] + _flush()
              + check[4] + check[5] + check[6] + _flush())

    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(stream)
        answers = await client.receive(12)
        kinds = [a.WhichOneof("value") for a in answers]
        assert kinds == ["check_tx", "check_tx", "flush", "check_tx", "flush", "info",
                         "check_tx", "flush", "check_tx", "check_tx", "check_tx", "flush"]
        assert [a.check_tx.code for a in answers if a.HasField("check_tx")] == list(range(7))
        assert app.batches == [3, 4]
        await client.aclose()

    _with_server(app, body)


def test_an_app_with_check_tx_batch_only_answers_every_check_tx_of_a_run() -> None:
    class OnlyBatch:
        def check_tx_batch(self, requests: list[pb.RequestCheckTx]) -> list[pb.ResponseCheckTx]:
            return [pb.ResponseCheckTx(code=r.tx[0]) for r in requests]

    check = [_frame(pb.Request(check_tx=pb.RequestCheckTx(tx=bytes([i])))) for i in range(3)]

    async def body(server: ABCIServer) -> None:
        client = await _connect(server.address)
        await client.send(check[0] + check[1] + _flush() + check[2] + _flush())
        answers = await client.receive(5)
        assert [a.WhichOneof("value") for a in answers] == [
            "check_tx", "check_tx", "flush", "check_tx", "flush"]
        assert [a.check_tx.code for a in answers if a.HasField("check_tx")] == [0, 1, 2]
        await client.aclose()

    _with_server(OnlyBatch(), body)


def test_check_tx_batch_returning_the_wrong_count_is_an_app_failure() -> None:
    class Short(EchoingApp):
        def check_tx_batch(self, requests: list[pb.RequestCheckTx]) -> list[pb.ResponseCheckTx]:
            return [self.check_tx(r) for r in requests[1:]]

    async def main() -> None:
        server = ABCIServer(Short(), "tcp://127.0.0.1:0")
        await server.start()
        client = await _connect(server.address)
        await client.send(b"".join(
            _frame(pb.Request(check_tx=pb.RequestCheckTx(tx=bytes([i])))) for i in range(3))
            + _flush())
        (answer,) = await client.receive(1)
        assert "one response per request" in answer.exception.error
        with pytest.raises(AppCrashed):
            await asyncio.wait_for(server.serve(), TIMEOUT)

    asyncio.run(main())


def _answer_frame(code: int) -> bytes:
    return encode_frame(pb.Response(check_tx=pb.ResponseCheckTx(
        code=code, log=bytes([code]).hex())).SerializeToString())


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\xff" * 11, id="varint-too-long"),
        pytest.param(encode_frame(b"\xff\xff\xff"), id="undecodable-protobuf"),
        pytest.param(encode_frame(b""), id="empty-oneof"),
        pytest.param(encode_frame(b"\x08\x01"), id="unknown-field-only"),
        pytest.param(encode_uvarint(4096), id="oversize-declared-length"),
    ],
)
def test_garbled_frame_closes_only_that_connection_without_calling_the_app(
    garbage: bytes,
) -> None:
    app = EchoingApp()
    info = _frame(pb.Request(info=pb.RequestInfo()))

    async def body(server: ABCIServer) -> None:
        healthy = await _connect(server.address)
        bad = await _connect(server.address)
        await bad.send(garbage + info + _flush())
        assert await bad.is_closed_by_server()
        await healthy.send(info + _flush())
        answers = await healthy.receive(2)
        assert answers[0].info.data == "tiny"
        await healthy.aclose()
        await bad.aclose()

    _with_server(app, body, max_frame_bytes=1024)
    assert app.calls == ["info"]


def test_unix_socket_address_is_served(tmp_path: Path) -> None:
    path = tmp_path / "abci.sock"

    async def body(server: ABCIServer) -> None:
        assert server.address == f"unix://{path}"
        client = await _connect(server.address)
        await client.send(_frame(pb.Request(echo=pb.RequestEcho(message="u"))) + _flush())
        echo, _ = await client.receive(2)
        assert echo.echo.message == "u"
        await client.aclose()

    _with_server(EchoingApp(), body, address=f"unix://{path}")
    assert not path.exists()


def test_app_exception_stops_the_server_and_reports_it_to_cometbft() -> None:
    app = EchoingApp()

    async def main() -> None:
        server = ABCIServer(app, "tcp://127.0.0.1:0")
        await server.start()
        serving = asyncio.ensure_future(server.serve())
        other = await _connect(server.address)
        client = await _connect(server.address)
        await client.send(
            _frame(pb.Request(info=pb.RequestInfo()))
            + _frame(pb.Request(query=pb.RequestQuery(path="/boom")))
            + _frame(pb.Request(info=pb.RequestInfo()))
            + _flush()
        )
        info, failure = await client.receive(2)
        assert info.info.data == "tiny"
        assert "query handler bug" in failure.exception.error
        assert await client.is_closed_by_server()
        assert await other.is_closed_by_server()
        with pytest.raises(AppCrashed):
            await asyncio.wait_for(serving, TIMEOUT)
        await client.aclose()
        await other.aclose()

    asyncio.run(main())
    assert app.calls == ["info", "query"]


def test_app_returning_the_wrong_message_type_is_an_app_failure() -> None:
    class WrongApp:
        def info(self, request: pb.RequestInfo) -> pb.ResponseQuery:
            return pb.ResponseQuery()

    async def main() -> None:
        server = ABCIServer(WrongApp(), "tcp://127.0.0.1:0")
        await server.start()
        serving = asyncio.ensure_future(server.serve())
        client = await _connect(server.address)
        await client.send(_frame(pb.Request(info=pb.RequestInfo())) + _flush())
        (failure,) = await client.receive(1)
        assert "expected ResponseInfo" in failure.exception.error
        with pytest.raises(AppCrashed):
            await asyncio.wait_for(serving, TIMEOUT)
        await client.aclose()

    asyncio.run(main())


def test_parse_address_accepts_cometbft_proxy_app_syntax() -> None:
    assert str(parse_address("tcp://127.0.0.1:26658")) == "tcp://127.0.0.1:26658"
    assert parse_address("unix:///tmp/x.sock").path == "/tmp/x.sock"
    for bad in ("127.0.0.1:26658", "tcp://host", "http://h:1", "unix://"):
        with pytest.raises(ValueError):
            parse_address(bad)


CRASHING_NODE = textwrap.dedent(
    """
    import logging
    from abci.proto import abci_pb2 as pb
    from abci.server import run

    class CrashingApp:
        def info(self, request):
            return pb.ResponseInfo(data="alive")

        def check_tx(self, request):
            raise ZeroDivisionError("bug in check_tx")

    logging.basicConfig(level=logging.INFO)
    run(CrashingApp(), "tcp://127.0.0.1:0")
    print("run returned", flush=True)
    """
)


def test_app_exception_makes_run_exit_the_process_with_nonzero_status() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_NODE],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            match = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port is not None, "server did not report its address"
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(
                _frame(pb.Request(info=pb.RequestInfo()))
                + _frame(pb.Request(check_tx=pb.RequestCheckTx(tx=b"x")))
                + _flush()
            )
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
        proc.wait()
    decoder = FrameDecoder()
    decoder.feed(received)
    info = pb.Response.FromString(decoder.next_frame() or b"")
    failure = pb.Response.FromString(decoder.next_frame() or b"")
    assert info.info.data == "alive"
    assert "bug in check_tx" in failure.exception.error
    assert proc.returncode == 1
    assert "Traceback" in stderr and "ZeroDivisionError: bug in check_tx" in stderr
    assert "run returned" not in stdout
