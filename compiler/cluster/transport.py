"""HTTP/1.1 to the API server over the standard library (http.client, ssl), credentials in memory.

Why not the kubernetes package: importing it took 1.6–1.9 s of every cluster command (README,
*Cluster commands*); what the commands send is a handful of REST calls this module makes itself.

TLS: the certificate authority goes to ``ssl`` as ``cadata``; the client certificate and key, which
``ssl`` only loads from a path, through an anonymous in-memory file (``memfd_create``, read as
``/proc/self/fd/N``). Where that does not exist (not Linux), a file of a private directory, removed
as soon as it is loaded, SIGTERM and SIGHUP included.

A connection is kept per thread and reused once an answer has been read whole (a list read page
by page pays for one TLS handshake, not one per page).
"""

from __future__ import annotations

import contextlib
import http.client
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
# connections


class _HTTPS(http.client.HTTPSConnection):
    """An HTTPS connection that may name another host in TLS (``tls-server-name``)."""

    def __init__(self, host, port, timeout, context, server_name):
        super().__init__(host, port, timeout=timeout, context=context)
        self._context = context
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        name = self._server_name or getattr(self, "_tunnel_host", None) or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=name)


class Transport:
    """Requests to one API server; one kept-alive connection per thread."""

    def __init__(self, target: Target):
        parts = urlsplit(target.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ClusterUnavailable(f"the kubeconfig's server {target.server!r} is not a URL")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.prefix = parts.path.rstrip("/")
        self.headers = {"User-Agent": USER_AGENT, **target.headers}
        self.context = tls_context(target) if self.secure else None
        self.server_name = target.server_name
        self.proxy = urlsplit(target.proxy) if target.proxy else None
        self.kept = threading.local()

    def _open(self, timeout: float) -> http.client.HTTPConnection:
        host, port = self.host, self.port
        if self.proxy is not None:
            host, port = self.proxy.hostname or "", self.proxy.port or 80
        connection: http.client.HTTPConnection
        if self.secure:
            connection = _HTTPS(host, port, timeout, self.context, self.server_name)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        if self.proxy is not None:
            connection.set_tunnel(self.host, self.port)
        connection.connect()
        return connection

    def send(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        connect_timeout: float,
        read_timeout: float,
        keep: bool = True,
    ) -> http.client.HTTPResponse:
        """The response, its headers read and its body not; Timeout or Broken when it fails.

        ``keep``: the connection may serve the next request once this answer is read whole."""
        headers = {**self.headers, **headers}
        kept = getattr(self.kept, "connection", None)
        self.kept.connection = None
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
        except (OSError, http.client.HTTPException) as exc:
            raise Broken(reason_of(exc)) from None
        return self._exchange(connection, method, target, headers, body, read_timeout, keep)

    def _exchange(self, connection, method, target, headers, body, read_timeout, keep):
        try:
            assert connection.sock is not None
            connection.sock.settimeout(read_timeout)
            connection.request(method, self.prefix + target, body=body, headers=headers)
            response = connection.getresponse()
        except TimeoutError:
            connection.close()
            raise Timeout("headers") from None
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise Broken(reason_of(exc)) from None
        response.kept_by = self if keep else None
        response.connection = connection
        return response

    def release(self, response: http.client.HTTPResponse) -> None:
        """Done with ``response``: its connection serves the next request when it can."""
        connection = getattr(response, "connection", None)
        if connection is None:
            return
        response.connection = None  # type: ignore[attr-defined]
        if response.isclosed() and not response.will_close and response.kept_by is self:  # type: ignore[attr-defined]
            self.kept.connection = connection
        else:
            connection.close()


def read_chunk(response: http.client.HTTPResponse, size: int) -> bytes:
    """What has arrived of the body, up to ``size`` bytes (b"" at its end)."""
    try:
        return response.read1(size)
    except TimeoutError:
        raise Timeout("body") from None
    except (OSError, http.client.HTTPException) as exc:
        raise Broken(reason_of(exc)) from None


_CLOSED = (
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    ConnectionResetError,
    BrokenPipeError,
)


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
    if isinstance(exc, http.client.HTTPException):
        return _one_line(f"not an HTTP answer: {type(exc).__name__} {exc}")
    return _one_line(exc)
