"""ABCI 2.0 socket server: accepts CometBFT's four connections (consensus, mempool, query,
snapshot) on `tcp://host:port` or `unix:///path`, decodes uvarint-framed `Request`s, hands each
one to the application and writes the `Response`s back in request order.

Concurrency model: one asyncio event loop in one thread. Application methods are plain synchronous
calls made from the connection handlers without awaiting in between, so calls from the four
connections are serialized (the app never sees two calls at once) and each connection's answers
are produced strictly in request order. A method may instead return an awaitable of its
response: the connection then waits for it before reading its next request, while the other
connections are served meanwhile. That is for slow work the app hands to another thread and
that no concurrent call can disturb (the VDF of a proposal must not stall CheckTx). An app may
also define `check_tx_batch(requests) -> responses` (or an awaitable of them): every run of
CheckTx requests already buffered together (Flushes between them included) then goes to it
in one call, so that the app can verify their signatures in parallel. Answers
are buffered and written when CometBFT sends `Flush`; when more requests are already buffered
behind the Flush (CometBFT flushes after almost every request under load), they are answered
first and everything goes out in one write.

Failure policy: a garbled or oversize frame closes only that connection, without calling the app.
An exception raised by the app is a bug: it is logged with its traceback, reported to CometBFT as
`ResponseException`, every listener and connection is closed, `ABCIServer.serve` raises
`AppCrashed` and `run` exits the process with status 1."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import stat
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from google.protobuf.message import DecodeError, Message

from abci.framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_uvarint
from abci.proto import abci_pb2

log = logging.getLogger("optio.abci")

_READ_CHUNK: Final[int] = 256 * 1024
# Write buffered answers early past this size so a client that rarely flushes cannot grow memory.
_EARLY_WRITE_BYTES: Final[int] = 4 * 1024 * 1024
_ONEOF: Final[str] = "value"
# How long stop() lets a connection flush what it has written before dropping it.
_CLOSE_GRACE_SECONDS: Final[float] = 5.0


class AppCrashed(RuntimeError):
    """The application raised while handling a request; the node must stop."""


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed listen address: `tcp` with host and port, or `unix` with a path."""

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


def parse_address(address: str) -> Address:
    """Parse `tcp://host:port` or `unix:///path` (CometBFT's `proxy_app` syntax)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        raise ValueError(f"address {address!r} needs a scheme: tcp://host:port or unix:///path")
    if scheme == "unix":
        if not rest:
            raise ValueError(f"unix address {address!r} has no path")
        return Address("unix", path=rest)
    if scheme == "tcp":
        host, colon, port = rest.rpartition(":")
        if not colon or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"tcp address {address!r} needs host:port")
        return Address("tcp", host=host.strip("[]") or "0.0.0.0", port=int(port))
    raise ValueError(f"unsupported address scheme {scheme!r} in {address!r}")


def _response_prefix(field_number: int) -> bytes:
    """Tag of a length-delimited `Response` oneof field with the given number."""
    return encode_uvarint((field_number << 3) | 2)


def _wrap(prefix: bytes, body: bytes) -> bytes:
    """A framed `Response` whose oneof field (tag `prefix`) holds the serialized `body`.

    Writing the envelope by hand saves a CopyFrom and a second serialization per answer; the
    bytes are exactly what `Response(<name>=msg).SerializeToString()` would produce."""
    inner = prefix + encode_uvarint(len(body)) + body
    return encode_uvarint(len(inner)) + inner


@dataclass(frozen=True, slots=True)
class _Route:
    """How one request kind is answered: the app method (None: default empty answer)."""

    method: Callable[[Message], Message] | None
    response_type: type[Message]
    prefix: bytes
    default_frame: bytes


def _build_routes(app: object) -> dict[str, _Route]:
    response_fields = abci_pb2.Response.DESCRIPTOR.fields_by_name
    routes: dict[str, _Route] = {}
    for field in abci_pb2.Request.DESCRIPTOR.oneofs_by_name[_ONEOF].fields:
        name = field.name
        if name in ("echo", "flush"):
            continue
        response_field = response_fields[name]
        response_message = response_field.message_type
        assert response_message is not None
        response_type = getattr(abci_pb2, response_message.name)
        prefix = _response_prefix(response_field.number)
        method = getattr(app, name, None)
        if method is not None and not callable(method):
            raise TypeError(f"app.{name} is not callable")
        routes[name] = _Route(method, response_type, prefix, _wrap(prefix, b""))
    return routes


_ECHO_PREFIX: Final[bytes] = _response_prefix(
    abci_pb2.Response.DESCRIPTOR.fields_by_name["echo"].number
)
_FLUSH_FRAME: Final[bytes] = _wrap(
    _response_prefix(abci_pb2.Response.DESCRIPTOR.fields_by_name["flush"].number), b""
)
_EXCEPTION_PREFIX: Final[bytes] = _response_prefix(
    abci_pb2.Response.DESCRIPTOR.fields_by_name["exception"].number
)


class ABCIServer:
    """Serves one application to CometBFT. `await start()` binds, `await serve()` runs until
    `stop()` (returns) or an app failure (raises `AppCrashed`)."""

    def __init__(
        self, app: object, address: str, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    ) -> None:
        self._app = app
        self._address = parse_address(address)
        self._max_frame_bytes = max_frame_bytes
        self._routes = _build_routes(app)
        self._check_tx_batch: Callable[[list[Message]], object] | None = getattr(
            app, "check_tx_batch", None)
        if self._check_tx_batch is not None and not callable(self._check_tx_batch):
            raise TypeError("app.check_tx_batch is not callable")
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._stopped: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._stop_task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """The bound address (with the real port when started on port 0)."""
        if self._server is None or self._address.scheme == "unix":
            return str(self._address)
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(Address("tcp", host=host, port=port))

    async def start(self) -> None:
        """Bind the listener; connections are served from now on."""
        if self._server is not None:
            return
        self._stopped = asyncio.Event()
        addr = self._address
        if addr.scheme == "unix":
            _remove_stale_socket(addr.path)
            self._server = await asyncio.start_unix_server(
                self._on_connection, path=addr.path, limit=_READ_CHUNK
            )
        else:
            self._server = await asyncio.start_server(
                self._on_connection, host=addr.host, port=addr.port, limit=_READ_CHUNK
            )
        log.info("ABCI server listening on %s", self.address)

    async def serve(self) -> None:
        """Run until `stop()`; raise `AppCrashed` if the application raised."""
        await self.start()
        assert self._stopped is not None
        await self._stopped.wait()
        if self._failure is not None:
            raise AppCrashed(f"stopped after {self._failure!r}") from self._failure

    async def stop(self) -> None:
        """Close the listener and every connection, then let `serve()` return."""
        server = self._server
        if server is not None and server.is_serving():
            server.close()
            if self._address.scheme == "unix":
                _remove_stale_socket(self._address.path)
        current = asyncio.current_task()
        open_connections = {t: w for t, w in self._connections.items() if t is not current}
        # Closing the transports (rather than cancelling the handlers) lets every handler leave
        # through its normal end-of-stream path after its buffered bytes are written.
        for writer in open_connections.values():
            writer.close()
        if open_connections:
            _, stuck = await asyncio.wait(open_connections, timeout=_CLOSE_GRACE_SECONDS)
            for task in stuck:
                open_connections[task].transport.abort()
            if stuck:
                await asyncio.wait(stuck)
        if server is not None:
            await server.wait_closed()
        if self._stopped is not None:
            self._stopped.set()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        peer = writer.get_extra_info("peername") or "unix peer"
        log.info("ABCI connection opened from %s", peer)
        try:
            await self._serve_connection(reader, writer, peer)
        except ConnectionError as exc:
            log.info("ABCI connection from %s lost: %s", peer, exc)
        except Exception as exc:  # a bug in this server: stop rather than serve on in doubt
            log.critical("ABCI server failed on connection from %s; stopping", peer, exc_info=exc)
            self._crash(exc)
        finally:
            del self._connections[task]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            log.info("ABCI connection from %s closed", peer)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        decoder = FrameDecoder(self._max_frame_bytes)
        pending: list[bytes] = []
        pending_bytes = 0
        flush_due = False

        async def write_pending() -> None:
            nonlocal pending_bytes, flush_due
            writer.write(b"".join(pending))
            pending.clear()
            pending_bytes = 0
            flush_due = False
            await writer.drain()

        while True:
            data = await reader.read(_READ_CHUNK)
            if not data:
                return
            decoder.feed(data)
            requests, garbled = self._decode_requests(decoder, peer)
            index = 0
            while index < len(requests):
                if self._failure is not None:
                    # The app already failed on another connection: it must not be called again.
                    return
                end = self._run_end(requests, index)
                run = requests[index:end]
                index = end
                try:
                    answers = self._answer(run)
                    if inspect.isawaitable(answers):
                        if flush_due:
                            # Answers already flushed must not wait for slow work.
                            await write_pending()
                        answers = await answers
                except Exception as exc:  # any app error is a bug that stops the node
                    await self._fail(exc, run[0][0], pending, writer)
                    return
                pending.extend(answers)
                pending_bytes += sum(len(a) for a in answers)
                flush_due = flush_due or any(name == "flush" for name, _ in run)
                if pending_bytes >= _EARLY_WRITE_BYTES:
                    await write_pending()
            if flush_due:
                await write_pending()
            if garbled:
                return

    def _decode_requests(
        self, decoder: FrameDecoder, peer: object
    ) -> tuple[list[tuple[str, Message]], bool]:
        """Every complete request buffered, as (kind, request), and whether a garbled frame
        followed them (the connection is then closed once they are answered)."""
        requests: list[tuple[str, Message]] = []
        from_string = abci_pb2.Request.FromString
        while True:
            try:
                frame = decoder.next_frame()
                if frame is None:
                    return requests, False
                request = from_string(frame)
            except (FrameError, DecodeError) as exc:
                log.error("closing ABCI connection from %s: garbled frame: %s", peer, exc)
                return requests, True
            name = request.WhichOneof(_ONEOF)
            if name is None:
                log.error("closing ABCI connection from %s: request with no kind set", peer)
                return requests, True
            requests.append((name, request))

    def _run_end(self, requests: list[tuple[str, Message]], start: int) -> int:
        """End of the requests answered together from `start`: one request, or, for an app
        with `check_tx_batch`, the run of CheckTx (with the Flushes between them)."""
        if requests[start][0] != "check_tx" or self._check_tx_batch is None:
            return start + 1
        end = start + 1
        for index in range(end, len(requests)):
            name = requests[index][0]
            if name == "check_tx":
                end = index + 1
            elif name != "flush":
                break
        return end

    def _answer(
        self, run: list[tuple[str, Message]]
    ) -> list[bytes] | Awaitable[list[bytes]]:
        """The frames answering `run` (see `_run_end`), or an awaitable of them."""
        name, request = run[0]
        if name == "flush":
            return [_FLUSH_FRAME]
        if name == "echo":
            body = abci_pb2.ResponseEcho(message=request.echo.message).SerializeToString()
            return [_wrap(_ECHO_PREFIX, body)]
        route = self._routes[name]
        # Before the default answer: `_run_end` grouped this run for the batch method, which
        # answers every CheckTx of it even when the app has no `check_tx` of its own.
        if name == "check_tx" and self._check_tx_batch is not None:
            responses = self._check_tx_batch([r.check_tx for n, r in run if n == "check_tx"])
            if inspect.isawaitable(responses):
                return self._awaited(responses, lambda rs: self._batch_frames(route, run, rs))
            return self._batch_frames(route, run, responses)
        if route.method is None:
            return [route.default_frame]
        response = route.method(getattr(request, name))
        if inspect.isawaitable(response):
            return self._awaited(response, lambda r: [self._frame(route, name, r)])
        return [self._frame(route, name, response)]

    @staticmethod
    async def _awaited(
        awaitable: Awaitable[Any], frames: Callable[[Any], list[bytes]]
    ) -> list[bytes]:
        return frames(await awaitable)

    def _batch_frames(
        self, route: _Route, run: list[tuple[str, Message]], responses: object
    ) -> list[bytes]:
        """Each CheckTx response of a run framed, with the run's Flushes in place."""
        if not isinstance(responses, list) or len(responses) != sum(
                name == "check_tx" for name, _ in run):
            raise TypeError("app.check_tx_batch must return a list of one response per request")
        # Apps answer most txs with one shared response object: frame it once per run.
        framed: dict[int, bytes] = {}
        frames = []
        answers = iter(responses)
        for name, _ in run:
            if name == "flush":
                frames.append(_FLUSH_FRAME)
                continue
            response = next(answers)
            frame = framed.get(id(response))
            if frame is None:
                frame = framed[id(response)] = self._frame(route, "check_tx", response)
            frames.append(frame)
        return frames

    @staticmethod
    def _frame(route: _Route, name: str, response: object) -> bytes:
        if type(response) is not route.response_type:
            raise TypeError(
                f"app.{name} returned {type(response).__name__}, "
                f"expected {route.response_type.__name__}"
            )
        assert isinstance(response, Message)
        return _wrap(route.prefix, response.SerializeToString())

    async def _fail(
        self, exc: Exception, name: str, pending: list[bytes], writer: asyncio.StreamWriter
    ) -> None:
        """Stop everything after an app error; CometBFT learns why through ResponseException."""
        log.critical("application raised while handling %s; stopping", name, exc_info=exc)
        # Record the failure before the first await so no other connection calls the app again.
        self._failure = exc
        body = abci_pb2.ResponseException(error=f"{name}: {exc!r}").SerializeToString()
        pending.append(_wrap(_EXCEPTION_PREFIX, body))
        try:
            writer.write(b"".join(pending))
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            self._stop_task = asyncio.get_running_loop().create_task(self.stop())

    def _crash(self, exc: Exception) -> None:
        """Record the first failure and stop the server; `serve()` then raises `AppCrashed`."""
        if self._failure is not None:
            return
        self._failure = exc
        self._stop_task = asyncio.get_running_loop().create_task(self.stop())


def _remove_stale_socket(path: str) -> None:
    """Remove a unix socket file left by a previous run (never a regular file)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(mode):
        os.unlink(path)


def run(
    app: object, address: str, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> NoReturn | None:
    """Serve `app` on `address` until SIGINT/SIGTERM (returns None); if the app raises, exit the
    process with status 1 so that CometBFT, which loses its connections, stops too."""

    async def main() -> None:
        server = ABCIServer(app, address, max_frame_bytes=max_frame_bytes)
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []

        def on_signal() -> None:
            stopping.append(loop.create_task(server.stop()))

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        await server.serve()

    try:
        asyncio.run(main())
    except AppCrashed as exc:
        log.critical("ABCI server stopped: %s", exc)
        logging.shutdown()
        sys.exit(1)
    return None
