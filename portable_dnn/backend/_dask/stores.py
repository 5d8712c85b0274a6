"""Zarr and HDF5 stores opened as Dask arrays, read a chunk at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da


def open_store(path: str, x: str = "X", y: str = "Y", func: str = "open_store") -> tuple[Any, Any]:
    """Dask arrays over the datasets ``x`` (features, m) and ``y`` (1, m) or (m,) of a Zarr or HDF5 store.

    A path ending in ``.h5``/``.hdf5`` is opened with h5py (the file stays open
    for reading while the arrays live), anything else with Zarr. X keeps the
    store's chunks along the examples axis, whole along the features; Y gets
    the same column chunks. Nothing is read until a chunk is computed.
    """
    if str(path).endswith((".h5", ".hdf5")):
        try:
            import h5py
        except ImportError:
            raise ValueError(f"{func}: reading HDF5 stores needs h5py (pip install h5py)") from None
        f = h5py.File(path, "r")
        for name in (x, y):
            if name not in f:
                raise ValueError(f"{func}: {path!r} has no dataset {name!r} (it has {sorted(f)})")
        dx, dy = f[x], f[y]
        X = da.from_array(dx, chunks=dx.chunks or "auto")
        Y = da.from_array(dy, chunks=dy.chunks or "auto")
    else:
        try:
            X = da.from_zarr(str(path), component=x)
            Y = da.from_zarr(str(path), component=y)
        except (KeyError, FileNotFoundError, ValueError) as exc:
            raise ValueError(f"{func}: cannot open datasets {x!r} and {y!r} of {path!r}: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{func}: dataset {x!r} must be 2-D (features, examples), got shape {X.shape}")
    m = X.shape[1]
    if Y.shape not in ((m,), (1, m)):
        raise ValueError(f"{func}: dataset {y!r} has shape {Y.shape}, expected (1, {m}) or ({m},)")
    X = X.rechunk((-1, X.chunks[1]))
    Y = Y.reshape((1, m)).rechunk((1, X.chunks[1]))
    return X, Y


def column_blocks(A: Any, index: Sequence[int]) -> Any:
    """The column chunks ``index`` of ``A``, side by side."""
    parts = [A.blocks[0, int(i)] for i in index]
    return parts[0] if len(parts) == 1 else da.concatenate(parts, axis=1)
