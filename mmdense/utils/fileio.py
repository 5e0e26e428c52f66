# Copyright (c) mmdense contributors. All rights reserved.
"""Atomic local file writes for checkpoints (and everything else mmengine
writes through its file backends).

mmengine 0.10.7 writes a checkpoint with ``open(path, 'wb').write(data)``
(``LocalBackend.put``): a process killed during the write leaves a truncated
``iter_N.pth`` under the final name, and ``last_checkpoint`` may already point
at it. Here every local ``put`` / ``put_text`` goes through
:func:`atomic_write_bytes`: the data is written to a temporary file *in the
same directory*, flushed and fsync'ed, then ``os.replace``'d over the final
name (atomic on POSIX and Windows when source and target share a file system),
and the directory is fsync'ed so that the rename itself survives a crash of
the machine. A reader therefore sees either the complete old file or the
complete new one, never a partial file.

:func:`register_atomic_local_backend` installs :class:`AtomicLocalBackend` as
mmengine's backend for local paths (``register_backend('local', ...,
force=True, prefixes='')``); ``mmengine.runner.save_checkpoint`` resolves its
backend per call, so every checkpoint the runner writes after the call is
atomic. Remote backends (``s3://``, ``petrel://``, ``http://``) are left
alone: an object store's PUT is already all-or-nothing.

:func:`sidecar_path` names the per-image side files (saliency masks, superpixel
maps) that mirror an image folder, for their writers and their readers alike.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio.backends import prefix_to_backends

_TMP_PREFIX = '.tmp-'


def _fsync_dir(dirname: str) -> None:
    """fsync a directory so that a rename in it is durable (POSIX only)."""
    if os.name != 'posix':
        return
    try:
        fd = os.open(dirname or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (e.g. certain FUSE mounts) refuse
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, without changing it where /proc tells it (setting
    it to read it back is not thread-safe)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def atomic_write_bytes(data: bytes, path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` atomically (all or nothing).

    The bytes go to a hidden temporary file next to ``path``
    (``.tmp-<name>-XXXX``), which is flushed, fsync'ed and renamed over
    ``path``; the directory is then fsync'ed. If anything fails (or the
    process dies) before the rename, ``path`` keeps its previous content; a
    leftover temporary file is removed on error and otherwise harmless (its
    name never matches ``*.pth`` globs or ``last_checkpoint``).

    Args:
        data (bytes): the content.
        path (str | Path): the final file name; parent folders are created.
    """
    path = osp.abspath(os.fspath(path))
    dirname, name = osp.split(path)
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'{_TMP_PREFIX}{name}-', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if osp.exists(path):  # keep the mode of the file we replace
            try:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            except OSError:
                pass
        else:  # mkstemp creates 0600; use the usual umask-derived mode
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


def atomic_write_text(text: str, path: Union[str, Path], encoding: str = 'utf-8') -> None:
    """:func:`atomic_write_bytes` for text."""
    atomic_write_bytes(text.encode(encoding), path)


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` and ``put_text`` are atomic
    (see :func:`atomic_write_bytes`); reading, listing and removing are
    unchanged."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_text(obj, filepath, encoding=encoding)


def register_atomic_local_backend() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths.

    Idempotent. Backend instances already cached by
    ``get_file_backend(..., enable_singleton=True)`` keep their class, so
    call this before the runner is built (importing ``mmdense.engine`` does).
    """
    if prefix_to_backends.get('') is not AtomicLocalBackend:
        register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # instances cached by get_file_backend(enable_singleton=True), e.g. the
    # one behind mmengine.fileio.put / dump, become atomic too
    from mmengine.fileio import io as mmengine_io
    for backend in mmengine_io.backend_instances.values():
        if type(backend) is LocalBackend:
            backend.__class__ = AtomicLocalBackend


def sidecar_path(img_path: str, sidecar_dir: str, img_root: Union[str, None] = None,
                 suffix: str = '.png') -> str:
    """Where a per-image side file (saliency mask, superpixel map) lives.

    ``<sidecar_dir>/<img_path relative to img_root, extension replaced by
    suffix>``; without ``img_root``, the file name alone. An image outside
    ``img_root`` is refused rather than mapped outside ``sidecar_dir``.

    Args:
        img_path (str): the image file.
        sidecar_dir (str): the folder of the side files.
        img_root (str, optional): the folder whose layout the side files mirror.
        suffix (str): the side file's extension ('.png', '.npz').

    Returns:
        str: the side file's path.
    """
    img_path = os.fspath(img_path)
    rel = osp.relpath(img_path, img_root) if img_root else osp.basename(img_path)
    if rel == '..' or rel.startswith('..' + os.sep):
        raise ValueError(f'image {img_path!r} is not under img_root {img_root!r}')
    return osp.join(sidecar_dir, osp.splitext(rel)[0] + suffix)
