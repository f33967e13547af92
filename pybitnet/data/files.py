"""Data files: the data root, finding a data set's files (gzip or not), reading
and verifying them against the known digests (:mod:`.registry`), downloading
(``download=True``; urllib and tarfile are imported only then)."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import registry

PathLike = Union[str, os.PathLike]


def data_root(root: Optional[PathLike] = None) -> Path:
    """The data root: `root`, else ``$PYBITNET_DATA``, else ``$XDG_CACHE_HOME/pybitnet``
    (``~/.cache/pybitnet``).

    Parameters
    ----------
    root : str or path-like, optional
        An explicit directory; wins over the environment.

    Returns
    -------
    pathlib.Path
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(registry.ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pybitnet"


def _candidates(directory: Path, name: str) -> List[Path]:
    return [directory / name, directory / (name + ".gz")]


def _find(directory: Path, name: str) -> Optional[Path]:
    for p in _candidates(directory, name):
        if p.is_file():
            return p
    return None


def _dataset_dir(root: Optional[PathLike], folder: str, names: Sequence[str]) -> Path:
    """``<root>/<folder>``, or `root` itself when it directly holds the data set's files."""
    base = data_root(root)
    if (base / folder).is_dir():
        return base / folder
    if base.is_dir() and any(_find(base, n) for n in names):
        return base
    return base / folder


MAX_DECOMPRESSED = 4 << 30  # bytes; the largest known file (SVHN's extra set) is 1.3 GB


def _gunzip(raw: bytes, path) -> bytes:
    """gzip data decompressed in pieces up to MAX_DECOMPRESSED bytes: a few MB of crafted gzip
    (a "bomb") would otherwise ask for an output buffer of any size, a MemoryError naming no file."""
    out, total = [], 0
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        while True:
            piece = f.read(64 << 20)
            if not piece:
                return b"".join(out)
            total += len(piece)
            if total > MAX_DECOMPRESSED:
                raise ValueError(f"{path}: decompresses to more than {MAX_DECOMPRESSED >> 30} GiB: not a data file "
                                 "pybitnet knows")
            out.append(piece)


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it is gzip data (told by its magic, not its name)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return _gunzip(raw, path)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from e
    if str(path).endswith(".gz"):
        raise ValueError(f"{path}: named .gz but is not gzip data (starts with {raw[:4]!r})")
    return raw


def _hexdigest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def file_digest(path: PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's content, decompressed first if it is gzip data.

    Parameters
    ----------
    path : str or path-like
    algorithm : str, default "sha256"
        Any :func:`hashlib.new` name.

    Returns
    -------
    str
    """
    return _hexdigest(_read_bytes(Path(path)), algorithm)


def _identify(data: bytes) -> Optional[str]:
    """Which known file (``folder/name``) these bytes are, if any."""
    digests: Dict[str, str] = {}
    for folder in registry.UPSTREAM.keys() | {p.name.split(".")[0] for p in registry.MANIFESTS.glob("*.SHA256SUMS")}:
        for name, (spec, _) in registry.digests(folder).items():
            algo, hexd = spec.split(":")
            if algo not in digests:
                digests[algo] = _hexdigest(data, algo)
            if digests[algo] == hexd:
                return f"{folder}/{name}"
    return None


def _check_digest(path: Path, data: bytes, folder: str, name: str) -> Optional[bool]:
    """Compare with the known digest (:func:`registry.digests`): True on match, None when none
    is known, False for a file that is not a known copy (the caller warns), ValueError for a
    file whose upstream digest differs."""
    spec, upstream = registry.digests(folder, path.parent).get(name, (None, False))
    if spec is None:
        return None
    algo, expected = spec.split(":")
    got = _hexdigest(data, algo)
    if got == expected:
        return True
    if not upstream:
        return False  # not the recorded copy (e.g. the original CIFAR-10): unverified, the caller warns
    other = _identify(data)
    hint = f" (it is {other})" if other else ""
    raise ValueError(f"{path}: {algo} checksum mismatch{hint}: expected {expected}, got {got}; "
                     f"the file is corrupt or not {folder}/{name} (pass verify=False to skip this check)")


def _read_checked(path: Path, folder: str, name: str, verify: bool) -> Tuple[bytes, Optional[bool]]:
    data = _read_bytes(path)
    return data, (_check_digest(path, data, folder, name) if verify else None)


def _fetch(urls: Sequence[str], dest: Path, check: Callable[[Path], None]) -> None:
    """Download the first working URL to `dest` (atomically), after `check` passed on it."""
    import urllib.request  # only when downloading: `import pybitnet.data` stays light
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")  # concurrent downloads do not collide
    errors: List[str] = []
    bad: List[str] = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            check(part)
            os.replace(part, dest)
            return
        except ValueError as e:
            bad.append(f"{url}: {e}")
        except OSError as e:  # urllib.error.URLError is an OSError
            errors.append(f"{url}: {e}")
        finally:
            if part.exists():
                part.unlink()
    if bad:
        raise ValueError(f"download of {dest.name} failed its check: " + "; ".join(bad + errors))
    raise OSError(f"could not download {dest.name}: " + "; ".join(errors))


def _digest_check(spec: str, decompress: bool = True) -> Callable[[Path], None]:
    algo, expected = spec.split(":")

    def check(path: Path) -> None:
        data = _read_bytes(path) if decompress else path.read_bytes()
        got = _hexdigest(data, algo)
        if got != expected:
            raise ValueError(f"{algo} checksum mismatch: expected {expected}, got {got}")
    return check


def _download_files(folder: str, directory: Path, names: Sequence[str], gz: bool) -> None:
    for name in names:
        remote = name + ".gz" if gz else name
        urls = [m + remote for m in registry.MIRRORS[folder]]
        _fetch(urls, directory / remote, _digest_check(registry.UPSTREAM[folder][name]))


def _download_cifar10(directory: Path) -> None:
    import tarfile

    url, spec = registry.CIFAR_ARCHIVE
    archive = directory / "cifar-10-binary.tar.gz"
    _fetch([url], archive, _digest_check(spec, decompress=False))
    try:
        # Only the known members are read, and written under names we choose (no path traversal).
        with tarfile.open(archive, "r:gz") as tar:
            for name in registry.CIFAR_FILES + (registry.CIFAR_META,):
                member = tar.extractfile("cifar-10-batches-bin/" + name)
                if member is None:
                    raise ValueError(f"{archive}: {name} is not a regular file")
                part = directory / f"{name}.{os.getpid()}.part"
                try:
                    with member, open(part, "wb") as out:
                        shutil.copyfileobj(member, out, 1 << 20)
                    os.replace(part, directory / name)
                finally:
                    part.unlink(missing_ok=True)
    except (tarfile.TarError, KeyError, EOFError, zlib.error) as e:
        raise ValueError(f"{archive}: unreadable CIFAR-10 archive ({e})") from e
    finally:
        archive.unlink(missing_ok=True)


def _missing_error(title: str, directory: Path, missing: Sequence[str], folder: str, fn: str,
                   sources: str) -> FileNotFoundError:
    files = "\n".join(f"    {n}  (or {n}.gz)" for n in missing)
    return FileNotFoundError(
        f"{title} not found: these files are missing from {directory}:\n{files}\n"
        f"Put them there (gzip-compressed or not), or point {registry.ENV_VAR} (or root=) at a directory "
        f"holding a {folder}/ folder with them. On a machine with network, {fn}(download=True) "
        f"fetches them from {sources} and checks their checksums.")


def _locate(title: str, folder: str, directory: Path, names: Sequence[str], fn: str,
            download: bool, fetch: Callable[[List[str]], None], sources: str) -> List[Path]:
    missing = [n for n in names if _find(directory, n) is None]
    if missing and download:
        fetch(missing)
        missing = [n for n in names if _find(directory, n) is None]
    if missing:
        raise _missing_error(title, directory, missing, folder, fn, sources)
    return [_find(directory, n) for n in names]  # type: ignore[misc]
