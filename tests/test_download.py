"""download-data against a local file server and local archives made from the real data."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time
import zipfile

import pytest

from classit_eval import cli
from classit_eval.data import download
from classit_eval.data.files import find_file, read_jsonl

PARTS = ["fast_eval/supplement_fast", "fast_eval/ewok_fast.zip", "fast_eval/reading"]


def download_data(argv: list[str]) -> int:
    """`classit-eval download-data ARGV`."""
    return cli.main(["download-data", *argv])



@pytest.fixture(scope="module")
def archive(eval_data, tmp_path_factory):
    """A zip shaped like the OSF download: evaluation_data/ with plain and zipped parts."""
    path = tmp_path_factory.mktemp("osf") / "evaluation_data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part in PARTS:
            src = eval_data / part
            files = [src] if src.is_file() else sorted(src.rglob("*"))
            for f in files:
                zf.write(f, "evaluation_data/" + f.relative_to(eval_data).as_posix())
    return path


@pytest.fixture(scope="module")
def server(archive):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(archive.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_unpacks_and_verifies(server, tmp_path, capsys):
    dest = tmp_path / "cache" / "evaluation_data"
    code = download_data(["--url", f"{server}/evaluation_data.zip", "--dest", str(dest)])
    out = capsys.readouterr()
    assert code == 0, out.err
    manifest = json.loads(download.DATA_MANIFEST.read_text())
    expected = sum(1 for k in manifest if k.startswith(("fast_eval/supplement_fast/",
                                                        "fast_eval/ewok_fast/",
                                                        "fast_eval/reading/")))
    assert f"{expected} files verified" in out.out
    assert (dest / "fast_eval" / "ewok_fast.zip").is_file()  # EWoK stays zipped
    assert not (dest / "fast_eval" / "ewok_fast").exists()
    assert len(read_jsonl(find_file("fast_eval/ewok_fast/social-properties.jsonl", dest))) == 100
    assert "manifest files are not there" in out.err  # the rest of the suite is absent


def test_unreachable_server_fails_fast_with_the_fix(tmp_path, capsys):
    start = time.monotonic()
    code = download_data(["--url", "http://127.0.0.1:9/evaluation_data.zip",
                          "--dest", str(tmp_path / "d"), "--timeout", "5"])
    assert code == 2 and time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert "Cannot reach http://127.0.0.1:9/" in err and "--archive" in err
    assert not (tmp_path / "d").exists()


def test_corrupt_file_fails_verification(archive, tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(bad, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("turn_taking.jsonl"):
                data = data.replace(b"Sarah", b"Sara", 1)
            out.writestr(item, data)
    code = download_data(["--archive", str(bad), "--dest", str(tmp_path / "d")])
    assert code == 2
    assert "Checksum mismatch for" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # verified before it is unpacked in place


def test_foreign_archive_is_refused(tmp_path, capsys):
    foreign = tmp_path / "other.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("README.txt", "not the data")
    assert download_data(["--archive", str(foreign), "--dest", str(tmp_path / "d")]) == 2
    assert "no full_eval/ or fast_eval/" in capsys.readouterr().err


def test_verify_an_existing_root(eval_data, tmp_path, capsys):
    assert download_data(["--verify", str(eval_data)]) == 0
    # every manifest file but the AoA CDI table, which the shared data lacks (SOURCES.md)
    count = len(json.loads(download.DATA_MANIFEST.read_text())) - 1
    assert not (eval_data / "full_eval" / "aoa" / "cdi_human.csv").exists()
    assert f"{count} files verified" in capsys.readouterr().out
    copy = tmp_path / "copy"
    shutil.copytree(eval_data / "fast_eval" / "reading", copy / "fast_eval" / "reading")
    csv = copy / "fast_eval" / "reading" / "reading_data.csv"
    csv.write_text(csv.read_text().replace("Arthur", "Arthor", 1))
    assert download_data(["--verify", str(copy)]) == 2
