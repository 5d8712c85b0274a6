"""The ``.npz`` container of a model file, read header first: no array is inflated before its
size is checked, and no compressed member is read.

Each member is a ``.npy`` array (format 1.0 or 2.0) stored uncompressed, as
``numpy.savez`` writes it. The model file's own checks (layer sizes, dtype,
finiteness) are :mod:`portable_dnn._schema`'s, the same for both containers
(see :mod:`portable_dnn._safetensors`).
"""

from __future__ import annotations

import contextlib
import math
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

import numpy as np

_MAX_HEADER = 10_000  # numpy's own limit on a .npy header
# Typed loosely: numpy's stubs before 2.3 omit ``max_header_size``, which numpy accepts since 1.24.
_HEADER_READERS: dict[tuple[int, int], Callable[..., tuple[Any, bool, np.dtype]]] = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
_READ_CHUNK = 1 << 24
_COMPRESSIONS = {zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}


def write(fh: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz`` into the binary file ``fh``."""
    np.savez(fh, **arrays)  # type: ignore[arg-type]


@contextlib.contextmanager
def archive(fh: IO[bytes], fail: Callable[[str], Exception]) -> Iterator[NpzArchive]:
    """The members of the ``.npz`` open as ``fh``; ``fail(what)`` makes the error for a file that is
    not one (the caller names the file)."""
    magic = fh.read(6)
    if not magic:
        raise fail("is empty, not a portable_dnn model file")
    if magic == np.lib.format.MAGIC_PREFIX:
        raise fail("is a single .npy array, not a portable_dnn model file (.npz)")
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise fail("is not a portable_dnn model file (it is not an .npz archive)")
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        yield NpzArchive(zf, fail)


class NpzArchive:
    """An ``.npz``'s members, read header first: no array is inflated before its size is checked."""

    def __init__(self, zf: zipfile.ZipFile, fail: Callable[[str], Exception]) -> None:
        self.zf, self.fail = zf, fail
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            name = info.filename
            self.members[name[:-4] if name.endswith(".npy") else name] = info

    def read(
        self,
        key: str,
        check: Callable[[tuple[int, ...], np.dtype], None],
        limit: int,
        why: str,
        data: bool = True,
    ) -> np.ndarray | None:
        """Member ``key``, once ``check(shape, dtype)`` passed and its data is within ``limit`` bytes.

        With ``data`` false only the header and the member's size are checked (and None returned).
        """
        info = self.members[key]
        if info.file_size > limit + _MAX_HEADER + 16:
            raise self.fail(f"has a {key!r} member of {info.file_size} bytes, more than the {limit} {why}")
        if info.compress_type != zipfile.ZIP_STORED:
            # A stored member costs no more memory than its bytes on disk; a compressed one, even
            # one its layer sizes allow, can inflate a small file into gigabytes.
            method = _COMPRESSIONS.get(info.compress_type, f"zip method {info.compress_type}")
            raise self.fail(
                f"stores {key!r} compressed ({method}); model files and checkpoints hold their arrays "
                "uncompressed, as save_parameters writes them (numpy.savez, not savez_compressed)"
            )
        with self.zf.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = _HEADER_READERS.get(version)
            if read_header is None:
                raise self.fail(
                    f"stores {key!r} in .npy format {version[0]}.{version[1]}, expected 1.0 or 2.0"
                )
            shape, fortran, dtype = read_header(member, max_header_size=_MAX_HEADER)
            if dtype.hasobject:
                raise self.fail(f"is not a portable_dnn model file: its {key!r} array holds Python objects")
            check(shape, dtype)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if nbytes > limit:
                raise self.fail(f"declares a {key!r} array of {nbytes} bytes, more than the {limit} {why}")
            if info.file_size != member.tell() + nbytes:
                raise self.fail(
                    f"has a {key!r} member of {info.file_size} bytes, but its header declares "
                    f"{member.tell() + nbytes}"
                )
            if not data:
                return None
            out = np.empty(count, dtype=dtype)
            if nbytes:
                raw = out.view(np.uint8)
                done = 0
                while done < nbytes:
                    chunk = member.read(min(_READ_CHUNK, nbytes - done))
                    if not chunk:
                        raise self.fail(
                            f"is truncated: its {key!r} array ends after {done} of {nbytes} bytes"
                        )
                    raw[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                    done += len(chunk)
            member.read(1)  # at the member's end: zipfile checks its CRC
        return out.reshape(shape, order="F" if fortran else "C")
