# Copyright (c) mmdense contributors. All rights reserved.
"""Decoding image bytes to 8-bit BGR, and telling a broken file from an odd
but valid one (see :class:`~mmdense.datasets.transforms.RobustLoadImageFromFile`)."""
import io
from typing import Optional, Sequence

import cv2
import numpy as np

from .bad_samples import CorruptImageError

def sniff_format(data: bytes) -> Optional[str]:
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


def truncation_reason(data: bytes, kind: Optional[str]) -> Optional[str]:
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
    kind = sniff_format(data)
    reason = truncation_reason(data, kind)
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
