# Copyright (c) mmdense contributors. All rights reserved.
"""RobustLoadImageFromFile against hostile inputs: paths that are not regular
files (a FIFO would hang, ``/dev/zero`` would exhaust memory), decompression
bombs (refused from their header, in milliseconds), and valid files with
trailing data (phone "motion photos")."""
import io
import os
import struct
import time
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from mmdense.datasets.transforms.bad_samples import CorruptImageError
from mmdense.datasets.transforms.decoding import decode_image
from mmdense.datasets.transforms.loading import RobustLoadImageFromFile


def _load(path, **kwargs):
    return RobustLoadImageFromFile(**kwargs)(dict(img_path=str(path)))


def _pattern(h=48, w=64):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.arange(w, dtype=np.uint8)[None] * 3
    img[:, :, 1] = np.arange(h, dtype=np.uint8)[:, None] * 5
    img[: h // 3, : w // 4, 2] = 250
    return img


def _jpeg(img, progressive=False):
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])).save(
        buf, 'JPEG', quality=90, progressive=progressive)
    return buf.getvalue()


def _junk(size, seed, eoi=False):
    """Random bytes (an MP4 stand-in) holding start-of-scan markers, and
    end-of-image markers only if ``eoi``."""
    rng = np.random.default_rng(seed)
    junk = bytearray(b'\x00\x00\x00\x18ftypmp42' + rng.integers(0, 256, size, np.uint8).tobytes())
    junk[size // 3:size // 3 + 2] = b'\xff\xda'
    junk[size // 2:size // 2 + 2] = b'\xff\xd9'
    if not eoi:
        while True:
            at = junk.find(b'\xff\xd9')
            if at < 0:
                break
            junk[at + 1] = 0x00
    return bytes(junk)


# --------------------------------------------- 4. only regular files are read
@pytest.mark.timeout(20)
@pytest.mark.parametrize('policy', ['raise', 'skip'])
@pytest.mark.parametrize('kind', ['fifo', 'dev_zero', 'directory'])
def test_only_regular_files_are_read(tmp_path, records, kind, policy):
    path = tmp_path / 'x.jpg'
    if kind == 'fifo':
        os.mkfifo(path)  # reading it would wait for a writer forever
        expected = 'not a regular file (FIFO)'
    elif kind == 'dev_zero':
        if not os.path.exists('/dev/zero'):
            pytest.skip('no /dev/zero')
        os.symlink('/dev/zero', path)  # reading it would never end
        expected = 'not a regular file (character device)'
    else:
        target = tmp_path / 'folder'
        target.mkdir()
        os.symlink(target, path)
        expected = 'not a regular file (directory)'
    start = time.monotonic()
    if policy == 'raise':
        with pytest.raises(CorruptImageError) as err:
            _load(path)
        assert str(path) in str(err.value) and expected in str(err.value)
    else:
        assert _load(path, invalid='skip') is None
        (rec, ) = records()
        assert rec['path'] == str(path) and expected in rec['reason']
    assert time.monotonic() - start < 1


# ------------------------------------------------- 5. decompression bombs
def _png_claiming(width, height):
    """A 1 x 1 PNG whose IHDR claims ``width x height`` (CRC fixed)."""
    buf = io.BytesIO()
    Image.new('RGB', (1, 1), (10, 20, 30)).save(buf, 'PNG')
    data = bytearray(buf.getvalue())
    assert data[12:16] == b'IHDR'
    data[16:24] = struct.pack('>II', width, height)
    data[29:33] = struct.pack('>I', zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _jpeg_claiming(width, height):
    """A small JPEG whose frame header claims ``width x height``."""
    data = bytearray(_jpeg(_pattern(16, 16)))
    sof = data.find(b'\xff\xc0')
    data[sof + 5:sof + 9] = struct.pack('>HH', height, width)
    return bytes(data)


@pytest.mark.timeout(60)
def test_decompression_bombs_refused_from_header(tmp_path, records):
    bombs = {'bomb.png': _png_claiming(30000, 30000), 'bomb.jpg': _jpeg_claiming(30000, 30000)}
    for name, data in bombs.items():
        path = tmp_path / name
        path.write_bytes(data)
        tracemalloc.start()
        start = time.monotonic()
        with pytest.raises(CorruptImageError) as err:
            _load(path)
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        message = str(err.value)
        assert str(path) in message and '30000 x 30000' in message, message
        assert 'max_pixels=268,435,456' in message, message
        assert elapsed < 0.5 and peak < 8 << 20, (elapsed, peak)
        assert _load(path, invalid='skip') is None
        # the other decoding path (mmcv, non-'color' types) has the same cap
        with pytest.raises(CorruptImageError, match='max_pixels'):
            _load(path, color_type='grayscale')
    assert {r['path'] for r in records()} == {str(tmp_path / n) for n in bombs}
    # the caps are configurable, and a file-size cap refuses before reading
    small = tmp_path / 'ok.png'
    small.write_bytes(_png_claiming(300, 200))
    with pytest.raises(CorruptImageError, match=r'claims 300 x 200 .*max_pixels=10,000'):
        _load(small, max_pixels=10_000)
    big = tmp_path / 'big.jpg'
    big.write_bytes(_jpeg(_pattern(200, 200)))
    size = big.stat().st_size
    with pytest.raises(CorruptImageError) as err:
        _load(big, max_file_bytes=1000)
    assert str(big) in str(err.value)
    assert f'{size:,} bytes is larger than max_file_bytes=1,000' in str(err.value)
    assert _load(big, max_file_bytes=size, max_pixels=200 * 200)['img'].shape == (200, 200, 3)
    with pytest.raises(ValueError, match='max_pixels'):
        RobustLoadImageFromFile(max_pixels=0)


# ------------------------------------------------- 6. trailing data is valid
@pytest.mark.parametrize('progressive', [False, True])
def test_trailing_data_is_valid_and_truncation_still_detected(tmp_path, progressive):
    jpeg = _jpeg(_pattern(), progressive=progressive)
    alone = decode_image(jpeg)
    for seed, eoi in ((0, False), (1, True)):
        # a motion photo: a complete JPEG, then a 100 KB video
        path = tmp_path / f'motion{seed}.jpg'
        path.write_bytes(jpeg + _junk(100_000, seed, eoi=eoi))
        np.testing.assert_array_equal(_load(path)['img'], alone)
        np.testing.assert_array_equal(_load(path, color_type='unchanged')['img'],
                                      cv2.imdecode(np.frombuffer(jpeg, np.uint8),
                                                   cv2.IMREAD_UNCHANGED))
    # cut in the middle of its (last) scan: truncated
    cut = jpeg[:len(jpeg) * 2 // 3]
    with pytest.raises(CorruptImageError, match='truncated JPEG'):
        decode_image(cut)
    # cut, then bytes without an end-of-image marker: still truncated
    for seed in range(5):
        with pytest.raises(CorruptImageError, match='truncated JPEG'):
            decode_image(cut + _junk(100_000, seed, eoi=False))
    # cut before any scan, then junk: no image data
    with pytest.raises(CorruptImageError, match='truncated JPEG'):
        decode_image(jpeg[:jpeg.find(b'\xff\xda')] + _junk(1000, 7))
