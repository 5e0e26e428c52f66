# Copyright (c) mmdense contributors. All rights reserved.
"""Decoding image bytes to 8-bit BGR, and telling a broken file from an odd
but valid one (see :class:`~mmdense.datasets.transforms.RobustLoadImageFromFile`)."""
import io
import warnings
from typing import NamedTuple, Optional, Sequence, Tuple

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


#: Default cap on the pixels an image may claim in its header: 2**28
#: (16384 x 16384; 768 MiB once decoded to 8-bit BGR), well above any real
#: photo (a 200-megapixel phone photo is 16320 x 12240 = 199.8 M pixels).
DEFAULT_MAX_PIXELS = 1 << 28



def _marker_positions(data: bytes) -> np.ndarray:
    """Sorted indices ``i`` where a JPEG marker's code follows: ``data[i]`` is
    0xFF (the last of any 0xFF fill bytes) and ``data[i + 1]`` is not 0x00 (a
    stuffed 0xFF of entropy-coded data), RST0-7 (inside a scan) or 0xFF.

    One vectorised pass over the file (a regular-expression search from
    every segment took ~4 ms per COCO image, longer than decoding it).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    code = arr[1:]
    is_marker = (arr[:-1] == 0xFF) & (code != 0x00) & (code != 0xFF)
    is_marker &= (code < 0xD0) | (code > 0xD7)
    return np.flatnonzero(is_marker)
# start-of-frame markers (whose segment holds the image size); not DHT (C4),
# JPG (C8) or DAC (CC)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class JpegStructure(NamedTuple):
    """What :func:`jpeg_structure` found: ``end`` is the index just after the
    end-of-image marker (None if the data ends before one), ``size`` the
    ``(width, height)`` of the first frame header (None if none was reached),
    ``scans`` the number of start-of-scan segments before the end, ``exif``
    whether an APP1 segment holding EXIF data came before the first scan
    (where JPEG puts it; without one the orientation is the stored one)."""
    end: Optional[int]
    size: Optional[Tuple[int, int]]
    scans: int
    exif: bool = False


def jpeg_structure(data: bytes) -> JpegStructure:
    """Walk a JPEG's marker segments from its start-of-image marker.

    The walk reads markers the way libjpeg does: a marker is ``FF`` (plus any
    ``FF`` fill bytes) and a code other than ``00``, ``D0``-``D7`` and ``FF``;
    a marker with a payload is followed by a 2-byte length and the walk jumps
    over it (so an EXIF thumbnail, a whole JPEG inside an APP1 segment, is
    never mistaken for the end of the image); bytes between segments and the
    entropy-coded data of each scan (where ``FF`` is stuffed as ``FF 00`` and
    only restart markers may appear) are scanned for the next marker. The
    image ends at the first end-of-image marker (``FF D9``) met this way.
    """
    n = len(data)
    markers = _marker_positions(data)
    pos, size, scans, exif = 2, None, 0, False
    while True:
        k = int(np.searchsorted(markers, pos))
        if k == len(markers):
            return JpegStructure(None, size, scans, exif)
        code, pos = data[markers[k] + 1], int(markers[k]) + 2
        if code == 0xD9:
            return JpegStructure(pos, size, scans, exif)
        if code in (0x01, 0xD8):  # TEM, a stray SOI: no payload
            continue
        if pos + 2 > n:
            return JpegStructure(None, size, scans, exif)
        length = int.from_bytes(data[pos:pos + 2], 'big')
        if length < 2:  # a corrupt length: look for the next marker
            continue
        if code in _JPEG_SOF and size is None and pos + 7 <= n:
            height = int.from_bytes(data[pos + 3:pos + 5], 'big')
            width = int.from_bytes(data[pos + 5:pos + 7], 'big')
            size = (width, height)
        if code == 0xE1 and scans == 0 and data[pos + 2:pos + 8] == b'Exif\x00\x00':
            exif = True
        if code == 0xDA:
            scans += 1
        pos += length
        if pos > n:
            return JpegStructure(None, size, scans, exif)


def truncation_reason(data: bytes, kind: Optional[str],
                      info: Optional[JpegStructure] = None) -> Optional[str]:
    """Why ``data`` is a truncated JPEG/PNG, or None.

    The rule, for a JPEG: walking its marker segments (:func:`jpeg_structure`)
    must reach an end-of-image marker (``FF D9``) after at least one
    start-of-scan segment. An ``FF D9`` inside a segment (an EXIF thumbnail's)
    does not count, and entropy-coded data cannot contain one (0xFF bytes
    there are stuffed with 0x00). Whatever follows the end-of-image marker
    (the video of a phone "motion photo", camera padding) is ignored: the
    image is ``data[:end]``. A file cut before its end-of-image marker is
    truncated, also when other bytes follow the cut, unless those bytes
    happen to hold an ``FF D9`` where a marker may stand, which no check of
    the structure can tell from a complete file (OpenCV then decodes what it
    can, as for any damaged scan). For a PNG: an ``IEND`` chunk must exist.
    """
    if kind == 'jpeg':
        info = info or jpeg_structure(data)
        if info.end is None:
            if info.scans == 0:
                return 'truncated JPEG (no image data)'
            return 'truncated JPEG (no end-of-image marker after the last scan)'
        if info.scans == 0:
            return 'truncated JPEG (no image data)'
    elif kind == 'png' and data.rfind(b'IEND') < 0:
        return 'truncated PNG (no IEND chunk)'
    return None


def image_end(data: bytes, kind: Optional[str], info: Optional[JpegStructure] = None) -> int:
    """Length of the image proper: a JPEG ends at its end-of-image marker
    (trailing data dropped); other formats are kept whole. ``info``: the
    JPEG's :func:`jpeg_structure` when the caller has it."""
    if kind == 'jpeg':
        end = (info or jpeg_structure(data)).end
        if end is not None:
            return end
    return len(data)


def image_size(data: bytes, kind: Optional[str] = None,
               info: Optional[JpegStructure] = None) -> Optional[Tuple[int, int]]:
    """``(width, height)`` claimed by an image's header, without decoding its
    pixels; None when it cannot be told (not an image, or a format neither
    parsed here nor known to PIL).

    JPEG (first frame header) and PNG (``IHDR``) are parsed here; the other
    formats are opened lazily by PIL (``Image.open`` reads the header only).
    A file so large that PIL refuses to open it (``DecompressionBombError``:
    more than twice ``Image.MAX_IMAGE_PIXELS``, 178,956,970 pixels by
    default) raises :class:`CorruptImageError`.
    """
    if kind is None:
        kind = sniff_format(data)
    if kind == 'png':
        if len(data) >= 24 and data[12:16] == b'IHDR':
            return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
        return None
    if kind == 'jpeg':
        return (info or jpeg_structure(data)).size
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError as err:
        raise CorruptImageError(f'claims too many pixels: {err}') from None
    except Exception:  # not readable by PIL: decoding will tell
        return None


def check_pixels(data: bytes, max_pixels: Optional[int], kind: Optional[str] = None,
                 info: Optional[JpegStructure] = None) -> None:
    """Raise :class:`CorruptImageError` if the header of ``data`` claims more
    than ``max_pixels`` pixels (None: no cap), before anything is decoded."""
    if max_pixels is None:
        return
    size = image_size(data, kind, info)
    if size is not None and size[0] * size[1] > max_pixels:
        width, height = size
        raise CorruptImageError(
            f'claims {width} x {height} = {width * height:,} pixels, more than '
            f'max_pixels={max_pixels:,} (a decompression bomb, or an image too large to '
            f'decode safely)')


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


def checked_image_bytes(data: bytes, max_pixels: Optional[int] = None) -> Tuple[str, bytes]:
    """``(format, the bytes up to the image's end)`` of an encoded image, or
    :class:`CorruptImageError` saying why it is not a usable one (empty,
    truncated, more than ``max_pixels`` pixels claimed by its header)."""
    kind, data, _ = _checked_image(data, max_pixels)
    return kind, data


def _checked_image(data: bytes, max_pixels: Optional[int]
                   ) -> Tuple[Optional[str], bytes, Optional[JpegStructure]]:
    """:func:`checked_image_bytes` plus the JPEG's structure (None otherwise)."""
    if len(data) == 0:
        raise CorruptImageError('empty (0-byte) file')
    kind = sniff_format(data)
    info = jpeg_structure(data) if kind == 'jpeg' else None  # walked once
    reason = truncation_reason(data, kind, info)
    if reason:
        raise CorruptImageError(reason)
    check_pixels(data, max_pixels, kind, info)
    end = image_end(data, kind, info)
    return kind, data if end == len(data) else data[:end], info


def decode_image(data: bytes, alpha_background: Optional[Sequence[int]] = None,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an encoded image to 8-bit BGR ``H x W x 3`` (orientation
    applied), or raise :class:`CorruptImageError` saying why it cannot be.

    An image whose header claims more than ``max_pixels`` pixels (None: no
    cap) is refused before decoding; a JPEG is decoded up to its end-of-image
    marker (see :func:`truncation_reason` for what follows it).
    """
    kind, data, info = _checked_image(data, max_pixels)
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
    # a JPEG without an EXIF segment is displayed as stored (no PIL parse)
    if kind in ('png', 'tiff', 'webp') or (kind == 'jpeg' and info.exif):
        img = apply_orientation(img, exif_orientation(data))
    return img
