"""Hostile servers and files on the way in: every download has a size cap and an overall deadline, a
bad body is one clear line naming the URL, local copies never pin, a bad index is never cached, and
concurrent pin writes lose nothing.

The servers are ``http.server`` threads on 127.0.0.1 (port 0) that stop with each test: an endless
body, a huge Content-Length, one byte every 0.5 s, a stalled body, HTML instead of npz, a truncated
body. Deadlines are set to about a second through module constants and keyword arguments.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.server
import io
import json
import multiprocessing as mp
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from distilled_registry import cli, download, published

HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>\n"
KEY = "kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt1000.npz"


# ----------------------------------------------------------------------------------------- servers


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Files from ``directory``, plus hostile routes under ``/_/``."""

    stop: threading.Event
    overrides: dict

    def log_message(self, *args):
        pass

    def _head(self, length: int | None = None, ctype: str = "application/octet-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        route = self.overrides.get(path, path)
        try:
            if route == "/_/endless":
                self._head()
                while not self.stop.is_set():
                    self.wfile.write(b"x" * 65536)
            elif route == "/_/huge":
                self._head(10 ** 12)
                while not self.stop.is_set():
                    self.wfile.write(b"x" * 65536)
            elif route == "/_/drip":
                self._head(100)
                for _ in range(100):
                    if self.stop.wait(0.5):
                        return
                    self.wfile.write(b"x")
                    self.wfile.flush()
            elif route == "/_/stall":
                self._head(100)
                self.wfile.flush()
                self.stop.wait(30)
            elif route == "/_/html":
                self._head(len(HTML), "text/html")
                self.wfile.write(HTML)
            elif route.startswith("/_/redirect/"):  # /_/redirect/N: N more redirects, then a file:// URL
                n = int(route.rsplit("/", 1)[1])
                self.send_response(302)
                self.send_header("Location", f"/_/redirect/{n - 1}" if n > 0 else "file:///etc/passwd")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif route.startswith("/_/truncated"):
                self._head(1000)
                self.wfile.write(b"PK\x03\x04" + b"\0" * 400)
            else:
                super().do_GET()
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def serve(root: Path, overrides: dict | None = None):
    """A server on 127.0.0.1 serving ``root`` and the hostile routes; ``overrides`` maps a path to a route."""
    stop = threading.Event()
    def init(self, *a, **kw):
        _Handler.__init__(self, *a, directory=str(root), **kw)

    handler = type("H", (_Handler,), {"stop": stop, "overrides": dict(overrides or {}), "__init__": init})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        t.join(timeout=5)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _npz(seed: int, n: int = 10, c: int = 10, shape=(28, 28, 1)) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    y = (np.eye(c, dtype=np.float32)[np.arange(n) % c] + 0.01 * rng.standard_normal((n, c))).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, images=x, labels=y)
    return buf.getvalue()


def _bucket(root: Path) -> dict[str, bytes]:
    """kip/kip.csv and two checkpoints of the headline MNIST run, laid out like the authors' bucket."""
    out = {}
    for k in (1000, 1500):
        p = root / f"kip/mnist/ConvNet_ssize10_nozca_l_noaug_ckpt{k}.npz"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_npz(k))
        out[k] = p.read_bytes()
    with open(root / "kip" / "kip.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["architecture", "dataset", "ssize", "zca", "l", "aug", "ckpt", "test_acc", "test_mse", "URL"])
        for k, acc in ((1000, 0.83), (1500, 0.85)):
            w.writerow(["ConvNet", "mnist", 10, False, True, False, k, acc, 0.02, ""])
    return out


# ------------------------------------------------------------------------------ the download module


@pytest.mark.parametrize("route, why", [
    ("_/endless", "more than the 100000 bytes"),
    ("_/huge", "1000000000000 bytes, more than the 100000"),
    ("_/drip", "deadline of 1.5 s"),
    ("_/stall", "broke off after 0 bytes"),
    ("_/truncated", "ended after 404 of the 1000 bytes"),
    ("nothing-here.npz", "HTTP 404"),
])
def test_fetch_stops_at_the_cap_and_the_deadline_naming_the_url(tmp_path, route, why):
    with serve(tmp_path) as base:
        t0 = time.monotonic()
        with pytest.raises(download.DownloadError) as e:
            download.fetch(base + route, max_bytes=100_000, deadline_s=1.5, read_timeout_s=0.6)
        took = time.monotonic() - t0
    assert base + route in str(e.value) and why in str(e.value), str(e.value)
    assert took < 3.0, f"{route}: {took:.1f} s"


def test_fetch_follows_few_redirects_and_only_to_http(tmp_path):
    with serve(tmp_path) as base:
        for route, why in (("_/redirect/3", "a redirect to a non-http(s) URL, refused"),
                           ("_/redirect/30", "more than 10 redirects")):
            with pytest.raises(download.DownloadError) as e:
                download.fetch(base + route, 100, deadline_s=5)
            assert str(e.value) == f"cannot download {base + route}: {why}"


def test_fetch_refusals_without_a_server(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/x.npz"
    with pytest.raises(download.DownloadError, match="connection refused") as e:
        download.fetch(url, 10, deadline_s=2)
    assert url in str(e.value)
    for bad in ("file:///etc/passwd", "ftp://example.org/x", "/etc/passwd"):
        with pytest.raises(download.DownloadError, match="only http"):
            download.fetch(bad, 10)


def test_fetch_without_requests_names_the_extra(monkeypatch):
    from distilled_registry import extras

    monkeypatch.setitem(sys.modules, "requests", None)  # as if not installed
    with pytest.raises(extras.MissingExtra) as e:
        download.fetch("http://127.0.0.1:9/x.npz", 10)
    assert str(e.value) == ("downloading http://127.0.0.1:9/x.npz needs requests, not installed here: "
                            "pip install 'distilled-registry[write]'")


def test_fetch_returns_a_good_body(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"abc" * 1000)
    with serve(tmp_path) as base:
        assert download.fetch(base + "f.bin", 3000, deadline_s=5) == b"abc" * 1000
        with pytest.raises(download.DownloadError, match="3000 bytes, more than the 2999"):
            download.fetch(base + "f.bin", 2999, deadline_s=5)


# ------------------------------------------------------------------------------- published files


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(published.bucket, "DEADLINE_S", 1.5)  # read at call time by published.download
    monkeypatch.setattr(published.bucket, "TIMEOUT_S", 0.6)


@pytest.mark.parametrize("route, why", [
    ("_/endless", "more than the"),
    ("_/huge", "more than the"),
    ("_/drip", "deadline"),
    ("_/html", "not an .npz"),
    ("_/truncated", "truncated"),
])
def test_a_bad_published_download_is_one_line_naming_the_url(home, tmp_path, capsys, fast, route, why):
    with serve(tmp_path, {"/" + KEY: "/" + route}) as base:
        t0 = time.monotonic()
        assert cli.main(["import-published", base + KEY]) == 1
        took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and base + KEY in err and why in err, err
    assert "allow_pickle" not in err and "Traceback" not in err
    assert took < 4.0
    assert not (home / published.PINS_FILE).exists()


def test_a_truncated_local_file_is_named_clearly(home, tmp_path, capsys):
    f = tmp_path / KEY
    f.parent.mkdir(parents=True)
    f.write_bytes(_npz(0)[:3000])
    assert cli.main(["import-published", str(f)]) == 1
    err = capsys.readouterr().err
    assert str(f) in err and "truncated" in err and err.count("\n") == 1, err
    f.write_bytes(HTML)
    assert cli.main(["import-published", str(f)]) == 1
    err = capsys.readouterr().err
    assert "not an .npz" in err and "allow_pickle" not in err, err


def test_a_file_url_is_a_local_copy_and_never_pins(home, tmp_path, capsys):
    root = tmp_path / "bucket"
    files = _bucket(root)
    forged = tmp_path / "forged" / KEY
    forged.parent.mkdir(parents=True)
    forged.write_bytes(_npz(99))  # a valid file of the right shapes, but not the authors'
    assert cli.main(["import-published", forged.as_uri(), "--json"]) == 0
    o = json.loads(capsys.readouterr().out)["origin"]
    assert o["downloaded"] is False and o["pin"]["state"] == "unpinned"
    assert not (home / published.PINS_FILE).exists() or KEY not in json.loads(
        (home / published.PINS_FILE).read_text())["files"]
    # a file:// mirror for a NAME is a local copy too
    assert cli.main(["import-published", "kip_mnist/ipc1-convnet-nozca-l-noaug-ckpt1000", "--base-url",
                     root.as_uri(), "--overwrite", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["origin"]["downloaded"] is False
    assert not (home / published.PINS_FILE).exists() or KEY not in json.loads(
        (home / published.PINS_FILE).read_text())["files"]
    # the genuine file, downloaded: accepted and pinned now
    with serve(root) as base:
        assert cli.main(["import-published", base + KEY, "--overwrite"]) == 0
    pins = json.loads((home / published.PINS_FILE).read_text())
    assert pins["files"][KEY]["sha256"] == hashlib.sha256(files[1000]).hexdigest()


def test_a_bad_index_is_never_cached_and_errors_name_the_url_read(home, tmp_path, capsys):
    good = tmp_path / "good"
    _bucket(good)
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "kip" / "kip.csv").write_bytes(HTML)
    with serve(bad) as bad_base, serve(good) as good_base:
        assert cli.main(["import-published", "kip_mnist/ipc1", "--base-url", bad_base]) == 1
        err = capsys.readouterr().err
        assert bad_base + "kip/kip.csv" in err and "not the authors' index" in err and err.count("\n") == 1, err
        assert cli.main(["import-published", "kip_mnist/ipc1", "--base-url", good_base]) == 0, capsys.readouterr().err
        o = json.loads((home / "kip_mnist" / "ipc1" / published.VERSION / "provenance.json").read_text())["origin"]
        assert o["checkpoint_resolved_from"] == good_base + "kip/kip.csv" and o["variant"]["checkpoint"] == 1500
    cached = [p for p in (home / "published_index").iterdir() if not p.name.startswith(".")]
    assert all(HTML not in p.read_bytes() for p in cached)


@pytest.mark.parametrize("content", ["{", "[]", '{"format": "distilled_registry.published_pins/1", "files": []}',
                                     '{"format": "distilled_registry.published_pins/1", "files": {"k": {"sha": 1}}}',
                                     '{"format": "other/1", "files": {}}'])
def test_a_malformed_pins_file_is_one_line(home, tmp_path, capsys, content):
    root = tmp_path / "bucket"
    _bucket(root)
    home.mkdir(parents=True)
    (home / published.PINS_FILE).write_text(content)
    with serve(root) as base:
        assert cli.main(["import-published", base + KEY]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and published.PINS_FILE in err, err
    assert (home / published.PINS_FILE).read_text() == content  # left as it was, for the user to look at


def _pin_many(home: str, worker: int, n: int) -> None:
    import os

    os.environ["DISTILLED_REGISTRY_HOME"] = home
    for i in range(n):
        published.record_pin(f"kip/mnist/w{worker}_{i}.npz", f"{worker:02d}{i:062d}", i, f"http://x/{worker}/{i}")


def test_concurrent_pin_writes_keep_every_pin(home):
    home.mkdir(parents=True)
    ctx = mp.get_context("spawn")  # not fork: a forked child of a multithreaded process can deadlock
    procs = [ctx.Process(target=_pin_many, args=(str(home), w, 20)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    pins = json.loads((home / published.PINS_FILE).read_text())["files"]
    assert len(pins) == 80 and all(f"kip/mnist/w{w}_{i}.npz" in pins for w in range(4) for i in range(20))
    assert not [p.name for p in home.iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------------------------------------- builder downloads


@pytest.fixture
def published_release(home, tmp_path):
    """A release of kip_digits/ipc10 served as a folder of files, as the builders download it."""
    from distilled_registry.builders import builder_testing

    path, _ = builder_testing.write_dummy_release("kip_digits/ipc10", tmp_path / "maker")
    root = tmp_path / "site"
    shutil.copytree(path, root / "kip_digits" / "ipc10" / "1.0.0")
    return root / "kip_digits" / "ipc10" / "1.0.0"


@pytest.fixture
def fast_builder(monkeypatch):
    from distilled_registry.builders import release_source

    monkeypatch.setattr(release_source, "DEADLINE_S", 1.5)
    monkeypatch.setattr(release_source, "READ_TIMEOUT_S", 0.6)


@pytest.mark.parametrize("name, route, why", [
    ("provenance.json", "_/endless", "more than the 1048576 bytes"),
    ("provenance.json", "_/huge", "more than the 1048576"),
    ("provenance.json", "_/stall", "broke off"),
    ("provenance.json", "_/drip", "deadline"),
    ("provenance.json", "_/html", "not a valid provenance.json"),
    ("data.npz", "_/endless", "more than the"),
    ("data.npz", "_/huge", "more than the"),
    ("data.npz", "_/html", "sha256"),  # not the size and sha256 provenance.json lists
])
def test_builder_downloads_have_a_cap_and_a_deadline(home, published_release, tmp_path, fast_builder, name, route, why):
    from distilled_registry import catalog
    from distilled_registry.builders import release_source

    entry = catalog.entry("kip_digits/ipc10")
    with serve(published_release.parents[2], {f"/kip_digits/ipc10/1.0.0/{name}": "/" + route}) as base:
        t0 = time.monotonic()
        with pytest.raises((release_source.ReleaseDownloadError, release_source.ReleaseChecksumError)) as e:
            release_source.from_url(entry, f"{base}kip_digits/ipc10/1.0.0/", tmp_path / "cache")
        took = time.monotonic() - t0
    assert f"{base}kip_digits/ipc10/1.0.0/{name}" in str(e.value) and why in str(e.value), str(e.value)
    assert took < 4.0
    assert not [p for p in (tmp_path / "cache").rglob(name) if p.is_file()]  # only verified files are kept


def test_builder_downloads_are_cached_verified(home, published_release, tmp_path):
    from distilled_registry import catalog
    from distilled_registry.builders import release_source

    entry = catalog.entry("kip_digits/ipc10")
    with serve(published_release.parents[2]) as base:
        url = f"{base}kip_digits/ipc10/1.0.0/"
        first = release_source.from_url(entry, url, tmp_path / "cache")
    cached = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert cached == ["data.npz", "provenance.json"]
    again = release_source.from_url(entry, url, tmp_path / "cache")  # the server is gone: read from the cache
    np.testing.assert_array_equal(again.images, first.images)
    # a cached file damaged meanwhile is not trusted: fetched again (and here, with no server, refused)
    f = next(p for p in (tmp_path / "cache").rglob("data.npz"))
    f.write_bytes(b"damaged")
    with pytest.raises(release_source.ReleaseDownloadError, match="connection refused"):
        release_source.from_url(entry, url, tmp_path / "cache")
