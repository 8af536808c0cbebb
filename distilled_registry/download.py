"""HTTP(S) downloads with a size cap and an overall deadline: how the package fetches every URL.

:func:`fetch` returns the body of an ``http://`` or ``https://`` URL as bytes, or raises one
:class:`DownloadError` whose message names the URL and why (HTTP status, too large, past the
deadline, no data for too long, connection refused, host not found, truncated). The HTTP is
``requests`` (a streamed GET; no retries, at most :data:`MAX_REDIRECTS` redirects, between http(s)
URLs only, as ``requests`` has no other transport); this module adds the limits it lacks:

- size: a ``Content-Length`` above ``max_bytes`` is refused before the body is read; a body without
  one is read in chunks and refused as soon as it passes ``max_bytes`` (at most ``max_bytes`` plus
  one chunk is ever held), so an endless or huge body costs nothing;
- time: each read waits at most ``read_timeout_s`` for data (a stalled server), and the deadline is
  checked before every read, so a server trickling its bytes is cut off: the whole download ends
  within ``deadline_s + read_timeout_s`` seconds however the server sends;
- completeness: a body shorter than its ``Content-Length`` is refused as truncated.

``requests`` (the ``write`` extra, and ``tfds``'s) is imported on the first download, not with the package.
"""

from __future__ import annotations

import socket
import time
import urllib.parse

from .errors import UserError

DEADLINE_S = 600.0  # a whole download, by default
READ_TIMEOUT_S = 60.0  # one read without any data
MAX_REDIRECTS = 10  # what urllib allowed before
CHUNK = 1 << 16
USER_AGENT = "distilled-registry"


class DownloadError(UserError):
    """A URL that could not be downloaded: the message names the URL and why.

    Attributes: ``url``; ``status``: the HTTP status when the server answered with an error, else None.
    """

    def __init__(self, message: str, url: str = "", status: int | None = None):
        super().__init__(message)
        self.url, self.status = url, status


def _causes(e: BaseException | None):
    """``e`` and what it wraps (``requests`` wraps urllib3's errors, which wrap the socket's)."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        inner = getattr(e, "reason", None)
        if not isinstance(inner, BaseException) and e.args and isinstance(e.args[0], BaseException):
            inner = e.args[0]
        e = inner if isinstance(inner, BaseException) else (e.__cause__ or e.__context__)


def _why(e: BaseException) -> str:
    """What a network failure (a ``requests`` or ``urllib3`` exception) means, in a few words."""
    import requests

    if isinstance(e, requests.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(e, requests.exceptions.InvalidSchema):
        return "a redirect to a non-http(s) URL, refused"
    for c in _causes(e):
        if isinstance(c, ConnectionRefusedError):
            return "connection refused (no server there, or no network)"
        if isinstance(c, socket.gaierror):
            return f"host not found ({c.strerror or c}; no network?)"
        if isinstance(c, (TimeoutError, socket.timeout, requests.Timeout)):
            return "no answer in time (a stalled server or no network)"
    return f"{type(e).__name__}: {e}"


def fetch(url: str, max_bytes: int, deadline_s: float = DEADLINE_S, read_timeout_s: float = READ_TIMEOUT_S) -> bytes:
    """The body of the http(s) ``url``, at most ``max_bytes`` bytes, downloaded within ``deadline_s`` seconds.

    Args:
      url: an ``http://`` or ``https://`` URL.
      max_bytes: the largest body accepted; more (announced or sent) raises DownloadError.
      deadline_s: checked before every read: past it the download is abandoned (the last read may wait
        up to ``read_timeout_s`` more).
      read_timeout_s: a single read (connecting included) may wait this long for data.
    Raises:
      DownloadError: naming ``url`` and why (not http(s), HTTP status, too large, deadline, stalled,
        connection refused, host not found, truncated).
    """
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise DownloadError(f"cannot download {url!r}: only http:// and https:// URLs are downloaded", url)
    from . import extras

    extras.require("requests", "urllib3", what=f"downloading {url}")
    import requests

    start = time.monotonic()
    timeout = min(read_timeout_s, deadline_s)
    try:
        with requests.Session() as s:
            s.max_redirects = MAX_REDIRECTS
            # identity: the bytes read are the bytes Content-Length counts, and what is checked
            with s.get(url, stream=True, timeout=(timeout, timeout),
                       headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}) as r:
                if r.status_code >= 400:
                    raise DownloadError(f"cannot download {url}: HTTP {r.status_code} {r.reason}", url, r.status_code)
                return _body(r, url, max_bytes, start, deadline_s)
    except requests.RequestException as e:
        raise DownloadError(f"cannot download {url}: {_why(e)}", url) from None


def _body(r, url: str, max_bytes: int, start: float, deadline_s: float) -> bytes:
    """The body of the streamed response ``r``, read under the cap, the deadline and the length it announced."""
    import urllib3.exceptions as u3

    try:
        length = int(r.headers["Content-Length"])
    except (KeyError, ValueError):
        length = None
    if length is not None and length > max_bytes:
        raise DownloadError(f"cannot download {url}: it is {length} bytes, more than the {max_bytes} "
                            "accepted for it (not the file expected)", url)
    chunks, got = [], 0
    while True:
        if time.monotonic() - start > deadline_s:
            raise DownloadError(f"cannot download {url}: not finished within the deadline of {deadline_s:g} s "
                                f"(a server sending too slowly); try again later or use another mirror", url)
        try:
            b = r.raw.read1(CHUNK)  # what has arrived, without waiting for a whole chunk
        except u3.ProtocolError:  # the connection closed early (urllib3's IncompleteRead)
            if length is None:
                raise DownloadError(f"cannot download {url}: the body broke off after {got} bytes", url) from None
            break  # said below: truncated
        except (u3.HTTPError, OSError) as e:
            raise DownloadError(f"cannot download {url}: the body broke off after {got} bytes ({_why(e)})",
                                url) from None
        if not b:
            break
        chunks.append(b)
        got += len(b)
        if got > max_bytes:
            raise DownloadError(f"cannot download {url}: more than the {max_bytes} bytes accepted for it "
                                "(not the file expected)", url)
    if length is not None and got != length:
        raise DownloadError(f"cannot download {url}: the body ended after {got} of the {length} bytes "
                            "announced (truncated); try again", url)
    return b"".join(chunks)
