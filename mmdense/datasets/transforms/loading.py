# Copyright (c) mmdense contributors. All rights reserved.
"""Image and label loading that never silently trains on a broken file.

mmcv's ``LoadImageFromFile`` decodes with OpenCV, which, depending on its
build, returns the readable part of a *truncated* JPEG padded with grey (a
warning on stderr only) or fails with a bare ``AssertionError``; any damaged
file then stops an 800-epoch run, or, with ``ignore_empty=True``, is skipped
without telling anyone.

:class:`RobustLoadImageFromFile` (a drop-in ``LoadImageFromFile``):

- **converts** what is a valid image to 8-bit BGR ``H x W x 3``: grayscale
  (1 channel, or gray + alpha), CMYK JPEG, RGBA (alpha dropped as mmcv/PIL
  do, or composited over ``alpha_background``), 16-bit PNG/TIFF (rounded
  ``v * 255 / 65535``), float images; the EXIF orientation is applied;
- **detects** what is not: a zero-byte file, a file that is not an image, a
  truncated JPEG (no end-of-image marker after the last scan; trailing data
  after the marker, such as the video of a phone "motion photo", is valid) or
  PNG (no ``IEND``), an undecodable file, an image smaller than ``min_size``;
- **refuses** what could hang or exhaust the process, before reading or
  decoding it: a path that is not a regular file (a FIFO, a device such as
  ``/dev/zero``, a directory, a socket, or a symlink to one of them; checked
  with ``os.stat`` before the file is opened, and again on the open file), a
  file larger than ``max_file_bytes`` (256 MiB by default; never read past
  it), and an image whose header claims more than ``max_pixels`` pixels
  (2**28 = 16384 x 16384 by default: a decompression bomb);
- applies a **policy** to each: ``missing`` (file not found) and
  ``invalid`` (the rest), each ``'raise'`` (an error naming the file; the
  default) or ``'skip'`` (the transform returns ``None``, and mmengine's
  ``BaseDataset`` draws another sample in training). Every skip is recorded
  (:func:`record_bad_sample`) and reported once per file, with a summary at
  the end of each epoch, by ``BadSampleReportHook`` — also from dataloader
  workers.

Decoding lives in :mod:`.decoding`, the shared policy in :mod:`.bad_samples`
and the label-map check (:class:`ValidateSegMap`) in :mod:`.validation`.
"""
import os
import stat
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import LoadImageFromFile as _MMCVLoadImageFromFile
from mmengine import fileio

from mmdense.registry import TRANSFORMS
from .bad_samples import CorruptImageError, check_policy, record_bad_sample
from .decoding import DEFAULT_MAX_PIXELS, checked_image_bytes, decode_image

#: Default cap on the size of an image file: 256 MiB.
DEFAULT_MAX_FILE_BYTES = 256 << 20

_FILE_TYPES = ((stat.S_ISFIFO, 'FIFO'), (stat.S_ISCHR, 'character device'),
               (stat.S_ISBLK, 'block device'), (stat.S_ISDIR, 'directory'),
               (stat.S_ISSOCK, 'socket'))


def _file_type(mode: int) -> str:
    for test, name in _FILE_TYPES:
        if test(mode):
            return name
    return 'unknown file type'


class _Refused(Exception):
    """A local path that must not be read (not a regular file, too large)."""


def read_regular_file(path: str, max_bytes: Optional[int] = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The bytes of a local *regular* file of at most ``max_bytes`` bytes
    (None: no cap).

    Raises ``FileNotFoundError`` (no such file, or a dangling symlink),
    another ``OSError`` (no permission, I/O error), or :class:`_Refused`
    with the reason when ``path`` is not a regular file (checked with
    ``os.stat`` before opening, so that a FIFO is never opened and a device
    never read, and again with ``os.fstat`` on the opened file) or is larger
    than ``max_bytes`` (checked before reading; at most ``max_bytes + 1``
    bytes are ever read, in case the file grows meanwhile).
    """
    def check(st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(f'cannot be read: not a regular file ({_file_type(st.st_mode)})')
        if max_bytes is not None and st.st_size > max_bytes:
            raise _Refused(f'file of {st.st_size:,} bytes is larger than '
                           f'max_file_bytes={max_bytes:,}')

    check(os.stat(path))
    # O_NONBLOCK: should the path have been swapped for a FIFO after the
    # stat, opening it does not wait for a writer (fstat then refuses it)
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_CLOEXEC', 0))
    try:
        st = os.fstat(fd)
        check(st)
        limit = None if max_bytes is None else max_bytes + 1
        chunks, total = [], 0
        want = st.st_size + 1  # the whole file (+1: see whether it grew) at once
        while limit is None or total < limit:
            if limit is not None:
                want = min(want, limit - total)
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = 1 << 20
    finally:
        os.close(fd)
    data = b''.join(chunks)
    if max_bytes is not None and len(data) > max_bytes:
        raise _Refused(f'file grew beyond max_file_bytes={max_bytes:,} while being read')
    return data


@TRANSFORMS.register_module()
class RobustLoadImageFromFile(_MMCVLoadImageFromFile):
    """``LoadImageFromFile`` that converts what it can and reports the rest.

    Required keys: ``img_path``. Added keys: ``img`` (``H x W x 3`` uint8
    BGR, or float32 with ``to_float32``), ``img_shape``, ``ori_shape``.

    Args:
        missing (str): policy for a file that does not exist: ``'raise'``
            (``FileNotFoundError`` naming the path; default) or ``'skip'``.
        invalid (str): policy for a file that is not a usable image (empty,
            not an image, truncated, undecodable, smaller than ``min_size``):
            ``'raise'`` (``CorruptImageError`` naming the path and the reason;
            default) or ``'skip'``. Only use ``'skip'`` in training
            pipelines: mmengine's datasets refuse ``None`` in test mode.
        min_size (int): minimum height and width, in pixels. Defaults to 1.
        max_file_bytes (int, optional): larger files are refused (policy
            ``invalid``) before being read. None: no cap. Defaults to 256 MiB.
        max_pixels (int, optional): images whose header claims more pixels
            (width x height) are refused (policy ``invalid``) before being
            decoded. None: no cap. Defaults to ``2**28`` (16384 x 16384).
        alpha_background (tuple, optional): BGR colour to composite
            transparent images over; None (default) drops the alpha channel,
            as mmcv and PIL's ``convert('RGB')`` do.
        to_float32 (bool): return float32. Defaults to False.
        color_type (str): only ``'color'`` is converted here; other values
            (``'grayscale'``, ``'unchanged'``...) use mmcv's decoding, still
            behind the checks of this transform.
        imdecode_backend (str): mmcv backend for non-``'color'`` types.
        ignore_empty (bool): mmcv's flag; True means ``missing='skip'`` and
            ``invalid='skip'`` (now counted and reported).
        backend_args (dict, optional): file backend arguments.
    """

    def __init__(self,
                 missing: str = 'raise',
                 invalid: str = 'raise',
                 min_size: int = 1,
                 max_file_bytes: Optional[int] = DEFAULT_MAX_FILE_BYTES,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 alpha_background: Optional[Sequence[int]] = None,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 file_client_args: Optional[dict] = None,
                 ignore_empty: bool = False,
                 *,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(to_float32=to_float32, color_type=color_type,
                         imdecode_backend=imdecode_backend, file_client_args=file_client_args,
                         ignore_empty=ignore_empty, backend_args=backend_args)
        self.missing = check_policy('RobustLoadImageFromFile: missing', missing)
        self.invalid = check_policy('RobustLoadImageFromFile: invalid', invalid)
        if ignore_empty:
            self.missing = self.invalid = 'skip'
        if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 1:
            raise ValueError(f'RobustLoadImageFromFile: min_size must be an int >= 1, '
                             f'got {min_size!r}')
        self.min_size = min_size
        for name, value in (('max_file_bytes', max_file_bytes), ('max_pixels', max_pixels)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < 1):
                raise ValueError(f'RobustLoadImageFromFile: {name} must be an int >= 1 or None, '
                                 f'got {value!r}')
        self.max_file_bytes = max_file_bytes
        self.max_pixels = max_pixels
        if alpha_background is not None and len(alpha_background) != 3:
            raise ValueError(f'RobustLoadImageFromFile: alpha_background must be a BGR '
                             f'triple, got {alpha_background!r}')
        self.alpha_background = alpha_background

    def _read(self, filename: str) -> bytes:
        """The file's bytes: local files through :func:`read_regular_file`;
        other backends (URIs) through mmengine, the size cap applied after."""
        if self.file_client_args is not None:
            data = fileio.FileClient.infer_client(self.file_client_args, filename).get(filename)
        else:
            backend = fileio.get_file_backend(filename, backend_args=self.backend_args)
            if isinstance(backend, fileio.LocalBackend):
                return read_regular_file(os.fspath(filename), self.max_file_bytes)
            data = backend.get(filename)
        if self.max_file_bytes is not None and len(data) > self.max_file_bytes:
            raise _Refused(f'file of {len(data):,} bytes is larger than '
                           f'max_file_bytes={self.max_file_bytes:,}')
        return data

    def _decode(self, data: bytes) -> np.ndarray:
        if self.color_type == 'color':
            return decode_image(data, self.alpha_background, self.max_pixels)
        _, data = checked_image_bytes(data, self.max_pixels)
        import mmcv
        try:
            img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as err:
            raise CorruptImageError(f'cannot be decoded ({type(err).__name__}: {err})') from None
        if img is None:
            raise CorruptImageError('cannot be decoded')
        return img

    def _fail(self, filename: str, reason: str, policy: str, missing: bool = False):
        if policy == 'skip':
            record_bad_sample(filename, reason)
            return None
        hint = (" (set missing='skip' to skip such samples)" if missing
                else " (set invalid='skip' to skip such samples in training)")
        if missing:
            raise FileNotFoundError(f'image file {filename!r} not found{hint}')
        raise CorruptImageError(f'image file {filename!r}: {reason}{hint}')

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            data = self._read(filename)
        except FileNotFoundError:
            return self._fail(filename, 'file not found', self.missing, missing=True)
        except _Refused as err:
            return self._fail(filename, str(err), self.invalid)
        except OSError as err:  # a folder, no permission, I/O error
            return self._fail(filename, f'cannot be read ({type(err).__name__}: {err})',
                              self.invalid)
        try:
            img = self._decode(data)
        except CorruptImageError as err:
            return self._fail(filename, str(err), self.invalid)
        if min(img.shape[:2]) < self.min_size:
            return self._fail(filename, f'too small ({img.shape[0]} x {img.shape[1]} < '
                              f'min_size={self.min_size})', self.invalid)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(missing={self.missing!r}, invalid={self.invalid!r}, '
                f'min_size={self.min_size}, max_file_bytes={self.max_file_bytes}, '
                f'max_pixels={self.max_pixels}, alpha_background={self.alpha_background}, '
                f'to_float32={self.to_float32}, color_type={self.color_type!r}, '
                f'backend_args={self.backend_args})')
