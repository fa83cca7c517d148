"""A kept-alive connection the server has closed while idle is not used for the next request: a
POST on it could not be sent again (tests/cluster/test_admission.py's dry runs failed with "the
server closed the connection" when the API server closed an idle connection between two POSTs)."""

from __future__ import annotations

import socket
import threading

from compiler.cluster.kubeconfig import Target
from compiler.cluster.transport import Transport, read_chunk

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        rest += conn.recv(4096)
    return head


def serve_then_close_idle(listener: socket.socket, seen: list[bytes]) -> None:
    """Each connection: one answer kept alive, then closed by the server as if idle too long."""
    for _ in range(2):
        conn, _ = listener.accept()
        with conn:
            seen.append(_read_request(conn))
            conn.sendall(ANSWER)
            conn.shutdown(socket.SHUT_RDWR)


def body(transport: Transport, method: str) -> bytes:
    response = transport.send(method, "/api/v1/namespaces", {}, b"{}", 5, 5)
    data = b""
    while chunk := read_chunk(response, 1024):
        data += chunk
    transport.release(response)
    return data


def test_a_post_after_the_server_closed_the_idle_connection_goes_on_a_new_one():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        seen: list[bytes] = []
        server = threading.Thread(target=serve_then_close_idle, args=(listener, seen), daemon=True)
        server.start()
        transport = Transport(Target(server=f"http://127.0.0.1:{listener.getsockname()[1]}"))
        assert body(transport, "GET") == b"{}"
        import time

        time.sleep(0.2)  # the server has closed the kept connection by now
        assert body(transport, "POST") == b"{}"
        server.join(5)
        assert [line.split(b" ")[0] for line in seen] == [b"GET", b"POST"]
