"""HTTP/1.1 to the API server over the standard library (socket, ssl), credentials in memory.

Why not the kubernetes package: importing it took 1.6–1.9 s of every cluster command (README,
*Cluster commands beside kubectl*); what the commands send is a handful of REST calls made here.

TLS: the certificate authority goes to ``ssl`` as ``cadata``; the client certificate and key, which
``ssl`` only loads from a path, through an anonymous in-memory file (``memfd_create``, read as
``/proc/self/fd/N``). Where that does not exist (not Linux), a file of a private directory, removed
as soon as it is loaded, SIGTERM and SIGHUP included.

HTTP/1.1 is written and read here (a status line, headers, a body of a Content-Length, chunked,
or up to the close): ``http.client`` imports the email package, which cost more than all the rest.
A connection is kept per thread and reused once an answer has been read whole (a list read page
by page pays for one TLS handshake, not one per page).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from .errors import ClusterUnavailable
from .errors import one_line as _one_line
from .kubeconfig import Target

USER_AGENT = "manifest-compiler"


class Timeout(Exception):
    """No answer within the time allowed (``stage``: "connect", "headers" or "body")."""

    def __init__(self, stage: str):
        super().__init__(stage)
        self.stage = stage


class Broken(Exception):
    """The connection failed or was closed; ``reason`` in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# TLS


def _exit_on(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def exit_on_termination() -> None:
    """SIGTERM and SIGHUP (a cancelled CI job, ``timeout``, a closed terminal) end the command as
    ``sys.exit`` does, so that every ``finally`` and exit handler runs."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit_on)


@contextlib.contextmanager
def _in_memory_file(data: bytes) -> Iterator[str]:
    """A path whose content is ``data``, for the one library call that wants a path."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        descriptor = os.memfd_create("compile-credentials", os.MFD_CLOEXEC)
        try:
            os.write(descriptor, data)
            yield f"/proc/self/fd/{descriptor}"
        finally:
            os.close(descriptor)
        return
    import shutil
    import tempfile

    exit_on_termination()
    directory = tempfile.mkdtemp(prefix="compile-kube-")  # 0700
    try:
        path = os.path.join(directory, "credentials.pem")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tls_context(target: Target) -> ssl.SSLContext:
    """The TLS context of ``target``: its CA (else the system's), its client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and host name
    if not target.ca:
        context.load_default_certs()
    else:
        ca = target.ca
        try:
            context.load_verify_locations(cadata=ca.decode("ascii") if b"-----BEGIN" in ca else ca)
        except (ssl.SSLError, ValueError, UnicodeDecodeError) as exc:
            raise ClusterUnavailable(
                f"cannot use the kubeconfig's certificate authority: {_one_line(exc)}"
            ) from None
    if target.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if target.client_cert and target.client_key:
        try:
            with _in_memory_file(target.client_cert + b"\n" + target.client_key) as path:
                context.load_cert_chain(path)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ClusterUnavailable(
                f"cannot use the kubeconfig's client certificate: {_one_line(exc)}"
            ) from None
    return context


# ---------------------------------------------------------------------------------------------
# HTTP/1.1: what the API server speaks, read by hand (http.client's import, which brings the
# email package, cost more than the rest of the client)

MAX_HEAD = 64 << 10  # bytes of a status line and headers


class NotHttp(Exception):
    """The peer does not speak HTTP/1.x."""


class _Connection:
    """One socket to the server (TLS or not), its reader, and whether it may serve again."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
            self.sock.close()

    def dropped(self) -> bool:
        """Whether this idle connection can no longer serve a request: an idle HTTP/1.1
        connection has nothing to read, so anything readable (the server's close, mostly, after
        its idle timeout) means it is done. Checked before reuse, since a POST that fails on a
        kept connection cannot be sent again (the server may have acted on it)."""
        import select

        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class Response:
    """An answer whose status and headers are read; its body is read with :func:`read_chunk`."""

    def __init__(self, connection: _Connection, method: str):
        self.connection: _Connection | None = connection
        self.kept_by: Transport | None = None
        reader = connection.reader
        line = reader.readline(MAX_HEAD)
        if not line:
            raise http_closed()
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, self.reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise NotHttp(f"not an HTTP answer: {line[:60]!r}")
        self.status = int(code)
        self.headers: dict[str, str] = {}
        size = len(line)
        while True:
            line = reader.readline(MAX_HEAD)
            size += len(line)
            if size > MAX_HEAD:
                raise NotHttp("headers larger than 64 KiB")
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise http_closed()
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length", "")
        self.remaining: int | None = int(length) if length.isdigit() else None
        if method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200:
            self.remaining, self.chunked = 0, False
        self.will_close = (
            version == "HTTP/1.0"
            or self.headers.get("connection", "").lower() == "close"
            or (self.remaining is None and not self.chunked)
        )
        self.chunk_left = 0  # of the current chunk
        self.done = self.remaining == 0

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def read1(self, size: int) -> bytes:
        if self.done or self.connection is None:
            return b""
        reader = self.connection.reader
        if self.chunked:
            return self._chunk(reader, size)
        if self.remaining is None:  # until the server closes
            data = reader.read1(size)
            self.done = not data
            return data
        data = reader.read1(min(size, self.remaining))
        if not data:
            raise http_closed()
        self.remaining -= len(data)
        self.done = self.remaining == 0
        return data

    def _chunk(self, reader, size: int) -> bytes:
        if self.chunk_left == 0:
            line = reader.readline(1024)
            if not line:
                raise http_closed()
            try:
                self.chunk_left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise NotHttp(f"a chunk size that is not one: {line[:40]!r}") from None
            if self.chunk_left == 0:  # the last chunk: trailers up to an empty line
                while line not in (b"\r\n", b"\n", b""):
                    line = reader.readline(MAX_HEAD)
                self.done = True
                return b""
        data = reader.read1(min(size, self.chunk_left))
        if not data:
            raise http_closed()
        self.chunk_left -= len(data)
        if self.chunk_left == 0 and reader.readline(3) not in (b"\r\n", b"\n"):
            raise NotHttp("a chunk not ended by CRLF")
        return data


def http_closed() -> ConnectionResetError:
    return ConnectionResetError(0, "the server closed the connection")


def _request_bytes(method: str, target: str, host: str, headers: dict, body: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Transport:
    """Requests to one API server; one kept-alive connection per thread."""

    def __init__(self, target: Target):
        parts = urlsplit(target.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClusterUnavailable(f"the kubeconfig's server {target.server!r} is not a URL")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.host_header = parts.netloc.rpartition("@")[2]
        self.prefix = parts.path.rstrip("/")
        self.headers = {"User-Agent": USER_AGENT, **target.headers}
        self.context = tls_context(target) if self.secure else None
        self.server_name = target.server_name
        self.proxy = urlsplit(target.proxy) if target.proxy else None
        self.kept = threading.local()

    def _open(self, timeout: float) -> _Connection:
        if self.proxy is not None:
            sock = socket.create_connection(
                (self.proxy.hostname or "", self.proxy.port or 80), timeout
            )
            self._tunnel(sock)
        else:
            sock = socket.create_connection((self.host, self.port), timeout)
        if self.context is not None:
            try:
                sock = self.context.wrap_socket(sock, server_hostname=self.server_name or self.host)
            except BaseException:
                sock.close()
                raise
        return _Connection(sock)

    def _tunnel(self, sock: socket.socket) -> None:
        """Through an http proxy: CONNECT host:port."""
        where = f"{self.host}:{self.port}"
        sock.sendall(f"CONNECT {where} HTTP/1.1\r\nHost: {where}\r\n\r\n".encode())
        answer = Response(_Connection(sock), "CONNECT")
        if answer.status != 200:
            sock.close()
            raise OSError(0, f"the proxy refused CONNECT {where}: {answer.status} {answer.reason}")

    def send(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        connect_timeout: float,
        read_timeout: float,
        keep: bool = True,
    ) -> Response:
        """The response, its headers read and its body not; Timeout or Broken when it fails.

        ``keep``: the connection may serve the next request once this answer is read whole."""
        headers = {**self.headers, **headers}
        kept = getattr(self.kept, "connection", None)
        self.kept.connection = None
        if kept is not None and kept.dropped():
            kept.close()
            kept = None
        if kept is not None:
            try:
                return self._exchange(kept, method, target, headers, body, read_timeout, keep)
            except Broken:
                if method == "POST":
                    raise
            except Timeout:
                raise
            # the server closed the kept connection meanwhile: once more on a fresh one
        try:
            connection = self._open(connect_timeout)
        except TimeoutError:
            raise Timeout("connect") from None
        except (OSError, NotHttp) as exc:
            raise Broken(reason_of(exc)) from None
        return self._exchange(connection, method, target, headers, body, read_timeout, keep)

    def _exchange(
        self,
        connection: _Connection,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        read_timeout: float,
        keep: bool,
    ) -> Response:
        try:
            connection.sock.settimeout(read_timeout)
            request = _request_bytes(method, self.prefix + target, self.host_header, headers, body)
            connection.sock.sendall(request)
            response = Response(connection, method)
        except TimeoutError:
            connection.close()
            raise Timeout("headers") from None
        except (OSError, NotHttp) as exc:
            connection.close()
            raise Broken(reason_of(exc)) from None
        response.kept_by = self if keep else None
        return response

    def release(self, response: Response) -> None:
        """Done with ``response``: its connection serves the next request when it can."""
        connection = response.connection
        if connection is None:
            return
        response.connection = None
        if response.done and not response.will_close and response.kept_by is self:
            self.kept.connection = connection
        else:
            connection.close()


def read_chunk(response: Response, size: int) -> bytes:
    """What has arrived of the body, up to ``size`` bytes (b"" at its end)."""
    try:
        return response.read1(size)
    except TimeoutError:
        raise Timeout("body") from None
    except (OSError, ValueError, NotHttp) as exc:  # ValueError: read from a closed reader
        raise Broken(reason_of(exc)) from None


_CLOSED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def reason_of(exc: BaseException) -> str:
    """A connection error in a few words (``Connection refused``)."""
    if isinstance(exc, _CLOSED):
        return "the server closed the connection"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _one_line(exc.verify_message or exc.reason or exc)
    if isinstance(exc, ssl.SSLError):
        return _one_line(exc.reason or exc)
    if isinstance(exc, socket.gaierror):
        return _one_line(exc.strerror or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return _one_line(exc.strerror)
    return _one_line(exc)
