"""Fetch a file over HTTP into a cache folder, verified, resumable; extract tar.gz archives safely.

A download goes to ``<name>.part`` and is resumed there (HTTP Range) after an interruption; only a complete file
whose size matches the server's and whose sha256 matches the expected one (if given) is renamed to ``<name>``.
A sidecar ``<name>.download.json`` records the URL, size and digest, so a later call returns at once.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import logging
import os
import posixpath
import re
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

from tqdm import tqdm

from tybalt_core.common.atomic_files import write_text
from tybalt_core.common.errors import TybaltInputError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
USER_AGENT = "tybalt-candle-benchmark"


class IncompleteDownload(Exception):
    """The transfer stopped before the server's announced size was reached (worth resuming)."""


def fetch(url: str, folder: str, *, sha256: str = "", checksum_parameter: str = "the expected sha256",
          attempts: int = 4, retry_wait_s: float = 2.0, timeout_s: float = 60.0, progress: bool = True) -> str:
    """Return the path of ``url``'s file in ``folder``, downloading it only if no verified copy is there."""
    path = os.path.join(folder, file_name_of(url))
    expected = sha256.strip().lower()
    if _verified_copy_present(path, url, expected):
        logger.info("cache hit: %s is present and verified, not downloading %s", path, url)
        return path
    os.makedirs(folder, exist_ok=True)
    part = f"{path}.part"
    for attempt in range(1, attempts + 1):
        try:
            _transfer(url, part, os.path.basename(path), timeout_s, progress)
            break
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == attempts:
                raise TybaltInputError(f"download of {url} failed: HTTP {error.code} {error.reason}; "
                                       f"check the URL, or put the file at {path} yourself") from None
            reason = f"HTTP {error.code}"
        except (IncompleteDownload, urllib.error.URLError, http.client.HTTPException, OSError) as error:
            if attempt == attempts:
                kept = f"the partial file {part} is kept and the next run resumes it; " if os.path.exists(part) else ""
                raise TybaltInputError(f"download of {url} failed after {attempts} attempts ({error}); {kept}"
                                       f"check the network, or put the file at {path} yourself") from None
            reason = str(error) or type(error).__name__
        wait = retry_wait_s * 2 ** (attempt - 1)
        logger.warning("download of %s interrupted (%s); resuming in %.0f s (attempt %d of %d)",
                       url, reason, wait, attempt + 1, attempts)
        time.sleep(wait)
    digest = _verify_digest(part, path, url, expected, checksum_parameter)
    os.replace(part, path)
    _write_sidecar(path, url, digest)
    return path


def file_name_of(url: str) -> str:
    """The last component of the URL's path: the name the file gets in the cache folder."""
    name = posixpath.basename(urllib.parse.urlparse(url).path)
    if not name or name in (".", ".."):
        raise TybaltInputError(f"URL {url!r} does not end with a file name; give the URL of a file")
    return name


def sha256_of(path: str) -> str:
    """Hex sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_tar(archive: str, folder: str) -> list[str]:
    """Extract a tar(.gz) archive into ``folder`` after refusing any member that could land outside it."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive)
            logger.info("extracting %s", archive)
            os.makedirs(folder, exist_ok=True)
            tar.extractall(folder, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TybaltInputError(f"archive {archive} is damaged or not a tar archive ({first_line}); "
                               f"delete it so that it is downloaded again") from None
    return [member.name for member in members]


def _check_member(member: tarfile.TarInfo, archive: str) -> None:
    """Refuse absolute names, '..' components, links leading out of the folder, and device files."""
    if _escapes(member.name):
        raise TybaltInputError(f"archive {archive} has an unsafe member {member.name!r} (absolute path or '..'); "
                               f"refusing to extract it; this is not the expected archive, check data_url")
    if member.issym():
        target = posixpath.join(posixpath.dirname(member.name), member.linkname)
        if member.linkname.startswith("/") or _escapes(target):
            raise TybaltInputError(f"archive {archive} has a member {member.name!r} that links outside the folder "
                                   f"(to {member.linkname!r}); refusing to extract it")
    elif member.islnk() and (member.linkname.startswith("/") or _escapes(member.linkname)):
        raise TybaltInputError(f"archive {archive} has a member {member.name!r} that links outside the folder "
                               f"(to {member.linkname!r}); refusing to extract it")
    elif not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise TybaltInputError(f"archive {archive} has a device or special file {member.name!r}; "
                               f"refusing to extract it")


def _escapes(name: str) -> bool:
    """Whether an archive path is absolute or climbs above the extraction folder."""
    return name.startswith("/") or posixpath.normpath(name).split("/")[0] == ".."


def _transfer(url: str, part: str, label: str, timeout_s: float, progress: bool) -> None:
    """Download into ``part``, continuing from its current size; raise IncompleteDownload if cut short."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416:  # the partial file is not a prefix of this resource: start again
            os.remove(part)
            raise IncompleteDownload(f"server refused to resume at byte {offset}; starting again") from None
        raise
    with response:
        if response.status == 206 and _range_start(response) == offset:
            mode, total = "ab", _total_size(response, offset)
        else:
            if offset:
                logger.info("server does not resume %s; downloading it from the start", url)
            mode, offset, total = "wb", 0, _total_size(response, 0)
        with open(part, mode) as handle, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                              desc=label, disable=not progress) as bar:
            for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                handle.write(block)
                bar.update(len(block))
    received = os.path.getsize(part)
    if total is not None and received != total:
        raise IncompleteDownload(f"received {received} of {total} bytes")


def _range_start(response) -> int | None:
    """First byte position of a 206 response's Content-Range ('bytes START-END/TOTAL')."""
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _total_size(response, offset: int) -> int | None:
    """Full size of the resource from Content-Range or Content-Length; None when the server does not say."""
    match = re.match(r"bytes \d+-\d+/(\d+)", response.headers.get("Content-Range", ""))
    if match:
        return int(match.group(1))
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def _verify_digest(part: str, path: str, url: str, expected: str, checksum_parameter: str) -> str:
    """Return the downloaded file's sha256; if it differs from ``expected``, move the file aside and refuse it."""
    actual = sha256_of(part)
    name = os.path.basename(path)
    if not expected:
        logger.info("sha256 of %s is %s (not checked); set %s = '%s' to pin it", name, actual, checksum_parameter,
                    actual)
    elif actual != expected:
        rejected = f"{path}.rejected"
        os.replace(part, rejected)
        raise TybaltInputError(
            f"checksum mismatch for {name} downloaded from {url}: expected sha256 {expected}, got {actual}; "
            f"the file was moved aside to {rejected} and not used; check the URL or {checksum_parameter}")
    return actual


def _verified_copy_present(path: str, url: str, expected: str) -> bool:
    """Whether ``path`` holds this URL's complete file (and the expected digest, when one is given).

    A file put there by hand (no sidecar) is hashed once and accepted if it matches, or if no digest is expected.
    """
    if not os.path.isfile(path):
        return False
    sidecar = _read_sidecar(path)
    if sidecar is not None:
        same_source = sidecar.get("url") == url and sidecar.get("size") == os.path.getsize(path)
        return same_source and (not expected or sidecar.get("sha256") == expected)
    actual = sha256_of(path)
    if expected and actual != expected:
        rejected = f"{path}.rejected"
        os.replace(path, rejected)
        logger.warning("%s has sha256 %s, expected %s; moved aside to %s, downloading again",
                       path, actual, expected, rejected)
        return False
    logger.info("using %s found in the cache folder (sha256 %s)", path, actual)
    _write_sidecar(path, url, actual)
    return True


def _read_sidecar(path: str) -> dict | None:
    """The download record of ``path`` (URL, size, sha256), or None if there is none."""
    try:
        with open(f"{path}.download.json") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _write_sidecar(path: str, url: str, digest: str) -> None:
    """Record where ``path`` came from, its size and digest, so that the next call can skip it."""
    write_text(f"{path}.download.json",
               json.dumps({"url": url, "size": os.path.getsize(path), "sha256": digest}, indent=1))
