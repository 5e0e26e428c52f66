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
  truncated JPEG (no end-of-image marker after the last scan) or PNG (no
  ``IEND``), an undecodable file, an image smaller than ``min_size``;
- applies a **policy** to each: ``missing`` (file not found) and
  ``invalid`` (the rest), each ``'raise'`` (an error naming the file; the
  default) or ``'skip'`` (the transform returns ``None``, and mmengine's
  ``BaseDataset`` draws another sample in training). Every skip is recorded
  (:func:`record_bad_sample`) and reported once per file, with a summary at
  the end of each epoch, by ``BadSampleReportHook`` — also from dataloader
  workers.

:class:`ValidateSegMap` does the same for ground-truth label maps (wrong
size, ids out of range, empty maps) of the evaluation datasets.
"""
import io
import json
import os
import os.path as osp
from typing import Optional, Sequence, Set, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as _MMCVLoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log

from mmdense.registry import TRANSFORMS

#: Environment variable naming the folder where skipped samples are recorded
#: (set by ``BadSampleReportHook`` before dataloader workers start).
BAD_SAMPLE_DIR_ENV = 'MMDENSE_BAD_SAMPLE_DIR'

_POLICIES = ('raise', 'skip')
_logged: Set[str] = set()  # per process: files already warned about


class CorruptImageError(ValueError):
    """An image file exists but is not a usable image."""


class InvalidAnnotationError(ValueError):
    """A ground-truth label map does not fit its image or its classes."""


def record_bad_sample(path: str, reason: str, kind: str = 'image') -> None:
    """Record a skipped sample for ``BadSampleReportHook``.

    Appends one JSON line to ``$MMDENSE_BAD_SAMPLE_DIR/<pid>.jsonl`` (one file
    per process, so dataloader workers never interleave). Without the hook
    (no such variable), the file is logged as a warning, once per process.
    """
    folder = os.environ.get(BAD_SAMPLE_DIR_ENV)
    if folder and osp.isdir(folder):
        line = json.dumps(dict(path=str(path), reason=reason, kind=kind)) + '\n'
        fd = os.open(osp.join(folder, f'{os.getpid()}.jsonl'),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode('utf-8'))
        finally:
            os.close(fd)
        return
    if path not in _logged:
        _logged.add(path)
        print_log(f'Skipped {kind} {path}: {reason}', logger='current', level=30)


# ---------------------------------------------------------------- decoding
def _sniff(data: bytes) -> Optional[str]:
    if data[:3] == b'\xff\xd8\xff':
        return 'jpeg'
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        return 'png'
    if data[:6] in (b'GIF87a', b'GIF89a'):
        return 'gif'
    if data[:2] == b'BM':
        return 'bmp'
    if data[:4] in (b'II*\x00', b'MM\x00*'):
        return 'tiff'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'webp'
    return None


def _truncation(data: bytes, kind: Optional[str]) -> Optional[str]:
    """Why ``data`` is a truncated JPEG/PNG, or None.

    A JPEG's entropy-coded data cannot contain ``FF D9`` (0xFF bytes there
    are stuffed with 0x00), so a complete file has an end-of-image marker
    after its last start-of-scan; an embedded EXIF thumbnail's own EOI comes
    before the main scan and does not count. Trailing bytes after the EOI are
    allowed.
    """
    if kind == 'jpeg':
        sos = data.rfind(b'\xff\xda')
        if sos < 0:
            return 'truncated JPEG (no image data)'
        if data.find(b'\xff\xd9', sos + 2) < 0:
            return 'truncated JPEG (no end-of-image marker after the last scan)'
    elif kind == 'png' and data.rfind(b'IEND') < 0:
        return 'truncated PNG (no IEND chunk)'
    return None


def exif_orientation(data: bytes) -> int:
    """EXIF orientation tag (1-8) of an encoded image; 1 when absent."""
    try:
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # not readable by PIL, or no/odd EXIF: no rotation
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image decoded as stored into its displayed orientation
    (what ``PIL.ImageOps.exif_transpose`` does)."""
    if orientation == 2:
        img = img[:, ::-1]
    elif orientation == 3:
        img = img[::-1, ::-1]
    elif orientation == 4:
        img = img[::-1]
    elif orientation == 5:
        img = np.swapaxes(img, 0, 1)
    elif orientation == 6:
        img = np.rot90(img, -1)
    elif orientation == 7:
        img = np.rot90(np.swapaxes(img, 0, 1), 2)
    elif orientation == 8:
        img = np.rot90(img, 1)
    return np.ascontiguousarray(img)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """8 bits per channel: uint16 rounded as ``v * 255 / 65535``; floats in
    [0, 1] scaled (else clipped to [0, 255]); bool to {0, 255}."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * 255
    if np.issubdtype(img.dtype, np.floating):
        img = np.nan_to_num(img.astype(np.float32))
        if img.size and img.max() <= 1.0:
            img = img * 255.0
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8)


def to_bgr(img: np.ndarray, alpha_background: Optional[Sequence[int]] = None) -> np.ndarray:
    """``H x W x 3`` BGR from gray, gray + alpha, BGR or BGRA (uint8)."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    channels = img.shape[2]
    if channels == 2:  # gray + alpha
        gray, alpha = img[:, :, 0], img[:, :, 1]
        img = np.dstack([gray, gray, gray, alpha])
        channels = 4
    if channels == 3:
        return img
    if channels == 4:
        bgr, alpha = img[:, :, :3], img[:, :, 3:]
        if alpha_background is None:
            return np.ascontiguousarray(bgr)
        a = alpha.astype(np.float32) / 255.0
        bg = np.asarray(alpha_background, dtype=np.float32).reshape(1, 1, 3)
        return np.clip(np.rint(bgr * a + bg * (1.0 - a)), 0, 255).astype(np.uint8)
    raise CorruptImageError(f'unsupported number of channels: {channels}')


def _decode_with_pil(data: bytes) -> np.ndarray:
    """PIL fallback for formats OpenCV cannot read; returns raw channels in
    BGR(A) order (orientation applied by the caller)."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # raises on truncated data
        if im.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
            arr = np.asarray(im).astype(np.int64)
            return np.clip(arr, 0, 65535).astype(np.uint16)
        if im.mode == 'F':
            return np.asarray(im, dtype=np.float32)
        if im.mode in ('L', '1'):
            return np.asarray(im.convert('L'))
        if im.mode in ('LA', 'PA', 'RGBA', 'P', 'La', 'RGBa'):
            arr = np.asarray(im.convert('RGBA'))
            return arr[:, :, [2, 1, 0, 3]]
        return np.asarray(im.convert('RGB'))[:, :, ::-1]


def decode_image(data: bytes, alpha_background: Optional[Sequence[int]] = None) -> np.ndarray:
    """Decode an encoded image to 8-bit BGR ``H x W x 3`` (orientation
    applied), or raise :class:`CorruptImageError` saying why it cannot be."""
    if len(data) == 0:
        raise CorruptImageError('empty (0-byte) file')
    kind = _sniff(data)
    reason = _truncation(data, kind)
    if reason:
        raise CorruptImageError(reason)
    buf = np.frombuffer(data, dtype=np.uint8)
    if kind == 'jpeg':  # CMYK and gray are converted by libjpeg / OpenCV
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        try:
            img = _decode_with_pil(data)
        except Exception as err:
            what = 'not an image file' if kind is None else f'damaged {kind.upper()} file'
            raise CorruptImageError(f'cannot be decoded ({what}: {type(err).__name__}: '
                                    f'{str(err)[:120]})') from None
    if img.size == 0:
        raise CorruptImageError('decoded to an empty image')
    img = to_bgr(to_uint8(img), alpha_background)
    if kind in ('jpeg', 'png', 'tiff', 'webp'):
        img = apply_orientation(img, exif_orientation(data))
    return img


# ---------------------------------------------------------------- transforms
def _check_policy(name: str, value: str, allowed: Tuple[str, ...] = _POLICIES) -> str:
    if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    return value


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
        self.missing = _check_policy('RobustLoadImageFromFile: missing', missing)
        self.invalid = _check_policy('RobustLoadImageFromFile: invalid', invalid)
        if ignore_empty:
            self.missing = self.invalid = 'skip'
        if not isinstance(min_size, int) or isinstance(min_size, bool) or min_size < 1:
            raise ValueError(f'RobustLoadImageFromFile: min_size must be an int >= 1, '
                             f'got {min_size!r}')
        self.min_size = min_size
        if alpha_background is not None and len(alpha_background) != 3:
            raise ValueError(f'RobustLoadImageFromFile: alpha_background must be a BGR '
                             f'triple, got {alpha_background!r}')
        self.alpha_background = alpha_background

    def _read(self, filename: str) -> bytes:
        if self.file_client_args is not None:
            return fileio.FileClient.infer_client(self.file_client_args, filename).get(filename)
        return fileio.get(filename, backend_args=self.backend_args)

    def _decode(self, data: bytes) -> np.ndarray:
        if self.color_type == 'color':
            return decode_image(data, self.alpha_background)
        if len(data) == 0:
            raise CorruptImageError('empty (0-byte) file')
        reason = _truncation(data, _sniff(data))
        if reason:
            raise CorruptImageError(reason)
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
                f'min_size={self.min_size}, alpha_background={self.alpha_background}, '
                f'to_float32={self.to_float32}, color_type={self.color_type!r}, '
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class ValidateSegMap(BaseTransform):
    """Check a ground-truth label map against its image and classes.

    Put it after the transform that loads the map (``mmseg.LoadAnnotations``,
    or a dataset giving ``gt_seg_map`` directly) and before packing.

    Args:
        num_classes (int): valid ids are ``0 .. num_classes - 1``.
        ignore_index (int): id of unlabelled pixels. Defaults to 255.
        key (str): results key of the map. Defaults to ``'gt_seg_map'``.
        size_mismatch (str): when the map's ``(H, W)`` differs from the
            image's: ``'raise'`` (default), ``'resize'`` (nearest neighbour,
            recorded) or ``'skip'``.
        out_of_range (str): ids ``>= num_classes`` or ``< 0`` (other than
            ``ignore_index``): ``'raise'`` (default), ``'ignore'`` (set to
            ``ignore_index``, recorded) or ``'skip'``.
        empty (str): a map with no labelled pixel: ``'keep'`` (default; the
            metric ignores it), ``'raise'`` or ``'skip'``.

    ``'skip'`` returns None: mmengine's datasets re-draw another sample in
    training but raise in test mode, so evaluation pipelines use ``'raise'``,
    ``'resize'``, ``'ignore'`` or ``'keep'``.
    """

    def __init__(self,
                 num_classes: int,
                 ignore_index: int = 255,
                 key: str = 'gt_seg_map',
                 size_mismatch: str = 'raise',
                 out_of_range: str = 'raise',
                 empty: str = 'keep') -> None:
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f'ValidateSegMap: num_classes must be a positive int, '
                             f'got {num_classes!r}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.key = key
        self.size_mismatch = _check_policy('ValidateSegMap: size_mismatch', size_mismatch,
                                           ('raise', 'resize', 'skip'))
        self.out_of_range = _check_policy('ValidateSegMap: out_of_range', out_of_range,
                                          ('raise', 'ignore', 'skip'))
        self.empty = _check_policy('ValidateSegMap: empty', empty, ('keep', 'raise', 'skip'))

    @staticmethod
    def _name(results: dict) -> str:
        for key in ('seg_map_path', 'img_path'):
            if results.get(key):
                return str(results[key])
        return f'sample {results.get("sample_idx", "?")}'

    def _handle(self, results: dict, policy: str, reason: str):
        name = self._name(results)
        if policy == 'raise':
            raise InvalidAnnotationError(f'label map of {name}: {reason}')
        record_bad_sample(name, reason, kind='label map')
        return None if policy == 'skip' else results

    def transform(self, results: dict) -> Optional[dict]:
        seg = results.get(self.key)
        if seg is None:
            raise KeyError(f'ValidateSegMap: no {self.key!r} in the results of '
                           f'{self._name(results)}; load the label map first')
        seg = np.asarray(seg)
        if seg.ndim == 3 and seg.shape[2] == 1:
            seg = seg[:, :, 0]
        if seg.ndim != 2:
            return self._handle(results, 'raise' if self.size_mismatch == 'resize' else
                                self.size_mismatch, f'expected an (H, W) map, got shape {seg.shape}')
        img = results.get('img')
        size = tuple(img.shape[:2]) if isinstance(img, np.ndarray) else results.get('img_shape')
        if size is not None and tuple(seg.shape) != tuple(size[:2]):
            reason = f'size {seg.shape[0]} x {seg.shape[1]} differs from the image\'s {size[0]} x {size[1]}'
            if self.size_mismatch == 'resize':
                self._handle(results, 'resize', reason + ' (resized, nearest)')
                seg = cv2.resize(seg, (int(size[1]), int(size[0])), interpolation=cv2.INTER_NEAREST)
            elif self._handle(results, self.size_mismatch, reason) is None:
                return None
        labelled = seg != self.ignore_index
        bad = labelled & ((seg < 0) | (seg >= self.num_classes))
        if bad.any():
            ids = np.unique(seg[bad])
            shown = ', '.join(str(int(v)) for v in ids[:8]) + (' ...' if len(ids) > 8 else '')
            reason = (f'{int(bad.sum())} pixels with ids outside 0..{self.num_classes - 1} '
                      f'(ignore_index={self.ignore_index}): {shown}')
            if self.out_of_range == 'ignore':
                self._handle(results, 'ignore', reason + ' (set to ignore_index)')
                seg = seg.copy()
                seg[bad] = self.ignore_index
                labelled = seg != self.ignore_index
            elif self._handle(results, self.out_of_range, reason) is None:
                return None
        if not labelled.any() and self.empty != 'keep':
            if self._handle(results, self.empty, 'no labelled pixel') is None:
                return None
        results[self.key] = seg
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index}, size_mismatch={self.size_mismatch!r}, '
                f'out_of_range={self.out_of_range!r}, empty={self.empty!r})')
