"""HTTP(S) downloads with a size cap and an overall deadline: how the package fetches every URL.

:func:`fetch` returns the body of an ``http://`` or ``https://`` URL as bytes, or raises one
:class:`DownloadError` whose message names the URL and why (HTTP status, too large, past the
deadline, no data for too long, connection refused, host not found, truncated). Guarantees:

- size: a ``Content-Length`` above ``max_bytes`` is refused before the body is read; a body without
  one is read in chunks and refused as soon as it passes ``max_bytes`` (at most ``max_bytes + 1``
  bytes are ever held), so an endless or huge body costs nothing;
- time: ``deadline_s`` bounds the whole download (connecting, headers, body), however the server
  trickles its bytes: at the deadline the connection is shut down and the read fails. Each single
  read also times out after ``read_timeout_s`` without data (a stalled server);
- completeness: a body shorter than its ``Content-Length`` is refused as truncated.

Redirects are followed between http(s) URLs only. Standard library only (``urllib``), no numpy,
so the registry core can use it anywhere.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import UserError

DEADLINE_S = 600.0  # a whole download, by default
READ_TIMEOUT_S = 60.0  # one read without any data
CHUNK = 1 << 16
USER_AGENT = "distilled-registry"


class DownloadError(UserError):
    """A URL that could not be downloaded: the message names the URL and why.

    Attributes: ``url``; ``status``: the HTTP status when the server answered with an error, else None.
    """

    def __init__(self, message: str, url: str = "", status: int | None = None):
        super().__init__(message)
        self.url, self.status = url, status


class _Watch:
    """The sockets of one download; :meth:`expire` (the deadline) shuts them down, waking any blocked read."""

    def __init__(self):
        self.socks: list[socket.socket] = []
        self.expired = False
        self._lock = threading.Lock()

    def add(self, sock) -> None:
        with self._lock:
            self.socks.append(sock)
            if self.expired:
                self._shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for s in self.socks:
                self._shut(s)

    @staticmethod
    def _shut(sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _opener(watch: _Watch) -> urllib.request.OpenerDirector:
    """An opener whose connections report their sockets to ``watch`` and which redirects to http(s) only."""

    class Conn(http.client.HTTPConnection):
        def connect(self):
            super().connect()
            watch.add(self.sock)

    class SConn(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            watch.add(self.sock)

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(Conn, req)

    class SHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(SConn, req, context=getattr(self, "_context", None))

    class Redirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            if urllib.parse.urlparse(urllib.parse.urljoin(req.full_url, newurl)).scheme not in ("http", "https"):
                raise urllib.error.HTTPError(newurl, code, f"redirect to a non-http(s) URL {newurl!r} refused",
                                             headers, fp)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(Handler, SHandler, Redirects)


def _why(e: BaseException) -> str:
    """What a network failure means, in a few words."""
    reason = getattr(e, "reason", e)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (no server there, or no network)"
    if isinstance(reason, socket.gaierror):
        return f"host not found ({reason.strerror or reason}; no network?)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "no answer in time (a stalled server or no network)"
    return f"{type(reason).__name__}: {reason}"


def fetch(url: str, max_bytes: int, deadline_s: float = DEADLINE_S, read_timeout_s: float = READ_TIMEOUT_S) -> bytes:
    """The body of the http(s) ``url``, at most ``max_bytes`` bytes, downloaded within ``deadline_s`` seconds.

    Args:
      url: an ``http://`` or ``https://`` URL.
      max_bytes: the largest body accepted; more (announced or sent) raises DownloadError.
      deadline_s: the whole download, connecting included, must end within this many seconds.
      read_timeout_s: a single read may wait this long for data.
    Raises:
      DownloadError: naming ``url`` and why (not http(s), HTTP status, too large, deadline, stalled,
        connection refused, host not found, truncated).
    """
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise DownloadError(f"cannot download {url!r}: only http:// and https:// URLs are downloaded", url)
    start = time.monotonic()
    watch = _Watch()
    timer = threading.Timer(deadline_s, watch.expire)
    timer.daemon = True
    timer.start()

    def late() -> DownloadError:
        return DownloadError(f"cannot download {url}: not finished within the deadline of {deadline_s:g} s "
                             f"(a server sending too slowly); try again later or use another mirror", url)

    try:
        try:
            req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            r = _opener(watch).open(req, timeout=min(read_timeout_s, deadline_s))
        except urllib.error.HTTPError as e:
            e.close()
            raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}", url, e.code) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as e:
            if watch.expired:
                raise late() from None
            raise DownloadError(f"cannot download {url}: {_why(e)}", url) from None
        with r:
            length = r.headers.get("Content-Length")
            try:
                length = int(length) if length is not None else None
            except ValueError:
                length = None
            if length is not None and length > max_bytes:
                raise DownloadError(f"cannot download {url}: it is {length} bytes, more than the {max_bytes} "
                                    "accepted for it (not the file expected)", url)
            chunks, got = [], 0
            while True:
                if watch.expired or time.monotonic() - start > deadline_s:
                    raise late()
                try:
                    b = r.read1(CHUNK) if hasattr(r, "read1") else r.read(CHUNK)
                except (OSError, http.client.HTTPException, ValueError) as e:
                    if watch.expired:
                        raise late() from None
                    raise DownloadError(f"cannot download {url}: the body broke off after {got} bytes ({_why(e)})",
                                        url) from None
                if not b:
                    break
                chunks.append(b)
                got += len(b)
                if got > max_bytes:
                    raise DownloadError(f"cannot download {url}: more than the {max_bytes} bytes accepted for it "
                                        "(not the file expected)", url)
            if watch.expired:
                raise late()
            if length is not None and got != length:
                raise DownloadError(f"cannot download {url}: the body ended after {got} of the {length} bytes "
                                    "announced (truncated); try again", url)
            return b"".join(chunks)
    finally:
        timer.cancel()
