"""Downloads against a real HTTP server on 127.0.0.1: cache hits, resume, retry, checksums, safe extraction."""

import hashlib
import io
import logging
import os
import tarfile

import pytest

from local_http_server import LocalFileServer
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.data.download import extract_tar, fetch

PAYLOAD = bytes(range(256)) * 4000  # 1 MB, more than one read chunk


@pytest.fixture
def server():
    with LocalFileServer() as running:
        running.files["files/data.bin"] = PAYLOAD
        yield running


def fetch_quietly(url, folder, **options):
    return fetch(url, folder, retry_wait_s=0, progress=False, **options)


def test_download_writes_the_file_and_a_second_call_sends_no_request(server, tmp_path, caplog):
    path = fetch_quietly(server.url("files/data.bin"), str(tmp_path))
    assert path == str(tmp_path / "data.bin")
    assert open(path, "rb").read() == PAYLOAD
    assert not os.path.exists(path + ".part")

    with caplog.at_level(logging.INFO, logger="tybalt_core.data.download"):
        again = fetch_quietly(server.url("files/data.bin"), str(tmp_path))
    assert again == path
    assert len(server.requests_for("files/data.bin")) == 1
    assert "cache hit" in caplog.text


def test_unpinned_download_logs_its_digest_so_it_can_be_pinned(server, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="tybalt_core.data.download"):
        fetch_quietly(server.url("files/data.bin"), str(tmp_path), checksum_parameter="data_sha256")
    assert f"data_sha256 = '{hashlib.sha256(PAYLOAD).hexdigest()}'" in caplog.text


def test_interrupted_download_resumes_from_where_it_stopped(server, tmp_path):
    server.cut_after["files/data.bin"] = [300_000]
    path = fetch_quietly(server.url("files/data.bin"), str(tmp_path))
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests_for("files/data.bin") == [None, "bytes=300000-"]


def test_interrupted_download_resumes_through_a_redirect(server, tmp_path):
    server.redirects["record/1/data.bin"] = "files/data.bin"  # as zenodo.org/record/... -> /records/...
    server.cut_after["files/data.bin"] = [500_000]
    path = fetch_quietly(server.url("record/1/data.bin"), str(tmp_path))
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests_for("files/data.bin") == [None, "bytes=500000-"]


def test_partial_file_that_cannot_be_resumed_is_discarded_and_downloaded_again(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 10))  # longer than the file: HTTP 416
    path = fetch_quietly(server.url("files/data.bin"), str(tmp_path))
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests_for("files/data.bin") == [f"bytes={len(PAYLOAD) + 10}-", None]


def test_interrupted_download_restarts_when_the_server_cannot_resume(server, tmp_path):
    server.support_ranges = False
    server.cut_after["files/data.bin"] = [300_000]
    path = fetch_quietly(server.url("files/data.bin"), str(tmp_path))
    assert open(path, "rb").read() == PAYLOAD
    assert len(server.requests_for("files/data.bin")) == 2


def test_download_cut_short_every_time_is_refused_and_keeps_the_partial_file(server, tmp_path):
    server.cut_after["files/data.bin"] = [100_000, 100_000, 100_000]
    with pytest.raises(TybaltInputError, match="failed after 3 attempts") as refused:
        fetch_quietly(server.url("files/data.bin"), str(tmp_path), attempts=3)
    assert "received 300000 of 1024000 bytes" in str(refused.value)
    assert "partial file" in str(refused.value) and "next run resumes it" in str(refused.value)
    assert not (tmp_path / "data.bin").exists()
    assert os.path.getsize(tmp_path / "data.bin.part") == 300_000

    path = fetch_quietly(server.url("files/data.bin"), str(tmp_path))  # the next run finishes the job
    assert open(path, "rb").read() == PAYLOAD
    assert server.requests_for("files/data.bin")[-1] == "bytes=300000-"


def test_checksum_mismatch_is_refused_and_the_file_moved_aside(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(TybaltInputError) as refused:
        fetch_quietly(server.url("files/data.bin"), str(tmp_path), sha256=wrong, checksum_parameter="data_sha256")
    message = str(refused.value)
    assert "data.bin" in message and wrong in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert "moved aside" in message and "data_sha256" in message
    assert not (tmp_path / "data.bin").exists()
    assert (tmp_path / "data.bin.rejected").read_bytes() == PAYLOAD


def test_matching_checksum_is_accepted_and_a_hand_placed_verified_file_is_not_downloaded(server, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert open(fetch_quietly(server.url("files/data.bin"), str(tmp_path / "a"), sha256=digest), "rb").read() == \
        PAYLOAD

    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "data.bin").write_bytes(PAYLOAD)
    fetch_quietly(server.url("files/data.bin"), str(tmp_path / "b"), sha256=digest.upper())
    assert len(server.requests_for("files/data.bin")) == 1


def test_present_file_with_the_wrong_checksum_is_replaced_by_a_fresh_download(server, tmp_path):
    (tmp_path / "data.bin").write_bytes(b"stale")
    path = fetch_quietly(server.url("files/data.bin"), str(tmp_path), sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert open(path, "rb").read() == PAYLOAD
    assert (tmp_path / "data.bin.rejected").read_bytes() == b"stale"


def test_missing_file_on_the_server_is_reported_without_retrying(server, tmp_path):
    with pytest.raises(TybaltInputError, match="HTTP 404") as refused:
        fetch_quietly(server.url("files/absent.tsv"), str(tmp_path))
    assert server.url("files/absent.tsv") in str(refused.value)
    assert len(server.requests_for("files/absent.tsv")) == 1


def test_unreachable_server_is_reported_after_the_retries(tmp_path):
    with pytest.raises(TybaltInputError, match="failed after 2 attempts.*check the network") as refused:
        fetch_quietly("http://127.0.0.1:9/data.bin", str(tmp_path), attempts=2)
    assert "partial file" not in str(refused.value)


def make_tar(path, members):
    """Write a tar.gz; ``members`` = (TarInfo, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return str(path)


def regular(name, content=b"data"):
    return tarfile.TarInfo(name), content


def link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_archive_extracts_inside_the_folder(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", [regular("gbm_download/HiSeqV2", b"x"),
                                                 link("gbm_download/alias", "HiSeqV2")])
    names = extract_tar(archive, str(tmp_path / "out"))
    assert names == ["gbm_download/HiSeqV2", "gbm_download/alias"]
    assert (tmp_path / "out" / "gbm_download" / "alias").read_bytes() == b"x"


@pytest.mark.parametrize("unsafe_member", [
    regular("gbm_download/../../escaped.txt"),
    regular("/tmp/absolute.txt"),
    link("gbm_download/evil_link", "../../outside"),
    link("gbm_download/abs_link", "/etc/passwd"),
    link("gbm_download/hard_link", "../outside", kind=tarfile.LNKTYPE),
], ids=["dot-dot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out"])
def test_archive_with_an_unsafe_member_is_refused_before_anything_is_written(tmp_path, unsafe_member):
    archive = make_tar(tmp_path / "bad.tar.gz", [regular("gbm_download/HiSeqV2"), unsafe_member])
    with pytest.raises(TybaltInputError, match="refusing to extract") as refused:
        extract_tar(archive, str(tmp_path / "out"))
    assert repr(unsafe_member[0].name) in str(refused.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", ["not an archive", "truncated"])
def test_damaged_archive_is_reported_in_one_line_with_the_fix(tmp_path, damage):
    good = make_tar(tmp_path / "good.tar.gz", [regular("gbm_download/HiSeqV2", os.urandom(200_000))])
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"not a tar archive at all" if damage == "not an archive" else
                        open(good, "rb").read()[:100_000])
    with pytest.raises(TybaltInputError, match="damaged or not a tar archive.*downloaded again") as refused:
        extract_tar(str(archive), str(tmp_path / "out"))
    assert "\n" not in str(refused.value)
