"""HTTP connections that can be cut from another thread, so that stopping a run does not wait
for answers nobody will store (a slow model can take minutes per request)."""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import weakref
from typing import Any

import httpcore2 as httpcore
import httpx2 as httpx
import openai


class _Stream(httpcore.NetworkStream):
    """A network stream that its backend can shut down (TLS included: it tracks the stream
    the handshake returns, whose socket is the one that is read)."""

    def __init__(self, inner: httpcore.NetworkStream, backend: AbortableBackend) -> None:
        self._inner, self._backend = inner, backend
        backend.track(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(*args, **kwargs), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class AbortableBackend(httpcore.SyncBackend):
    """httpcore's socket backend, remembering its live streams to shut them down on demand."""

    def __init__(self) -> None:
        self._streams: weakref.WeakSet[_Stream] = weakref.WeakSet()
        self._lock = threading.Lock()

    def track(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.add(stream)

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(super().connect_tcp(*args, **kwargs), self)

    def abort(self) -> None:
        """Shut every open connection down: a thread blocked reading one wakes with an error
        at once (closing the socket would not wake it)."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            sock = stream.get_extra_info("socket")
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass  # already closed


def abortable_http_client(timeout: float) -> tuple[httpx.Client, AbortableBackend]:
    """An httpx client for the openai SDK (its default limits and redirects) whose
    connections `backend.abort()` cuts."""
    backend = AbortableBackend()
    transport = httpx.HTTPTransport(verify=_tls(), limits=openai.DEFAULT_CONNECTION_LIMITS)
    # httpx2 (the openai SDK's httpx) builds its httpcore2 pool and takes no backend: the
    # pool keeps it here.
    transport._pool._network_backend = backend
    client = openai.DefaultHttpxClient(transport=transport, timeout=timeout)
    return client, backend


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS settings every run's client shares (httpx's own, SSL_CERT_FILE and SSL_CERT_DIR
    honoured): building them loads the CA bundle, 35 ms of CPU each time; one is thread-safe."""
    return httpx.create_ssl_context(trust_env=True)
