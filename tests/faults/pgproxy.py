"""A TCP proxy in front of PostgreSQL that can lose a COMMIT's answer: an in-doubt commit.

Everything is relayed both ways. Once armed, the first COMMIT sent on a connection that has
inserted into ``table`` reaches the server (which commits), and then the connection is cut
before the answer gets back: the app cannot know whether its transaction committed.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

#: SSLRequest and GSSENCRequest: untyped packets before the startup message.
_NEGOTIATION = {80877103, 80877104}


class CommitCutter:
    def __init__(self, target: tuple[str, int], table: str) -> None:
        self.target = target
        self.marker = f"INSERT INTO {table} ".encode()
        self.armed = threading.Event()
        self.cut = threading.Event()  # set once a commit's answer was dropped
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._stopping = False
        self._sockets: list[socket.socket] = []

    def serve(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            dropped = threading.Event()
            threading.Thread(
                target=self._upstream, args=(client, server, dropped), daemon=True
            ).start()
            threading.Thread(
                target=self._downstream, args=(server, client, dropped), daemon=True
            ).start()

    def _upstream(
        self, client: socket.socket, server: socket.socket, dropped: threading.Event
    ) -> None:
        inserted = False
        with suppress(OSError):
            for kind, message in _messages(client):
                if kind in (b"Q", b"P") and self.marker in message:
                    inserted = True
                if (
                    self.armed.is_set()
                    and inserted
                    and kind in (b"Q", b"P")
                    and b"COMMIT\x00" in message
                ):
                    self.armed.clear()
                    dropped.set()  # before the server can answer
                server.sendall(message)
        _close(client, server)

    def _downstream(
        self, server: socket.socket, client: socket.socket, dropped: threading.Event
    ) -> None:
        with suppress(OSError):
            while data := server.recv(65536):
                if dropped.is_set():
                    self.cut.set()
                    break  # the commit's answer never reaches the app
                client.sendall(data)
        _close(client, server)

    def stop(self) -> None:
        self._stopping = True
        self.listener.close()
        for sock in self._sockets:
            _close(sock)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            sock.close()


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _messages(sock: socket.socket) -> Iterator[tuple[bytes, bytes]]:
    """(type, whole message) from a client: the untyped start-up packets (type b""), then
    typed messages."""
    while True:
        head = _read(sock, 8)
        length, code = struct.unpack("!ii", head)
        yield b"", head + _read(sock, length - 8)
        if code not in _NEGOTIATION:
            break
    while True:
        kind = _read(sock, 1)
        (length,) = struct.unpack("!i", _read(sock, 4))
        yield kind, kind + struct.pack("!i", length) + _read(sock, length - 4)


@contextmanager
def commit_cutter(host: str, port: int, table: str) -> Iterator[CommitCutter]:
    cutter = CommitCutter((host, port), table)
    thread = threading.Thread(target=cutter.serve, daemon=True)
    thread.start()
    try:
        yield cutter
    finally:
        cutter.stop()
        thread.join(5)
