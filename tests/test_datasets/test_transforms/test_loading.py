# Copyright (c) mmdense contributors. All rights reserved.
"""RobustLoadImageFromFile: valid images of every kind become 8-bit BGR with
the right pixels; broken ones raise an error naming the file, or are skipped
and recorded."""
import io
import json
import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from mmdense.datasets.transforms.bad_samples import CorruptImageError
from mmdense.datasets.transforms.decoding import apply_orientation, decode_image
from mmdense.datasets.transforms.loading import RobustLoadImageFromFile

RNG = np.random.default_rng(0)


def _pattern(h=24, w=32):
    """An asymmetric image (so that every rotation/flip is distinguishable)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.arange(w, dtype=np.uint8)[None] * 7
    img[:, :, 1] = np.arange(h, dtype=np.uint8)[:, None] * 9
    img[: h // 3, : w // 4, 2] = 250
    return img


def _load(path, **kwargs):
    return RobustLoadImageFromFile(**kwargs)(dict(img_path=str(path)))


def _jpeg_bytes(img_bgr, quality=95):
    return cv2.imencode('.jpg', img_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


# ---------------------------------------------------------------- broken files
BROKEN = {
    'truncated.jpg': (lambda: _jpeg_bytes(_pattern(64, 64))[:900], 'truncated JPEG'),
    'empty.jpg': (lambda: b'', 'empty (0-byte) file'),
    'text.jpg': (lambda: b'this is not an image\n' * 10, 'not an image file'),
    'truncated.png': (lambda: cv2.imencode('.png', _pattern())[1].tobytes()[:200],
                      'truncated PNG'),
    'garbage.png': (lambda: b'\x89PNG\r\n\x1a\n' + bytes(RNG.integers(0, 256, 300,
                                                                        dtype=np.uint8)) + b'IEND',
                    'damaged PNG'),
}


@pytest.mark.parametrize('name', sorted(BROKEN))
def test_broken_file_raises_naming_it(tmp_path, name):
    make, reason = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(CorruptImageError) as err:
        _load(path)
    assert str(path) in str(err.value) and reason in str(err.value)


@pytest.mark.parametrize('name', sorted(BROKEN))
def test_broken_file_skipped_and_recorded(tmp_path, name, records):
    make, reason = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(make())
    assert _load(path, invalid='skip') is None
    (rec, ) = records()
    assert rec['path'] == str(path) and reason in rec['reason']


def test_missing_file_raises_by_default_and_can_be_skipped(tmp_path, records):
    path = tmp_path / 'nope.jpg'
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        _load(path)
    assert _load(path, missing='skip') is None
    assert records()[0]['reason'] == 'file not found'
    # a folder in place of an image is an invalid file, not a missing one
    with pytest.raises(CorruptImageError, match='cannot be read'):
        _load(tmp_path)


def test_jpeg_with_trailing_bytes_and_thumbnail_is_not_truncated(tmp_path):
    data = _jpeg_bytes(_pattern(64, 64))
    path = tmp_path / 'trailing.jpg'
    path.write_bytes(data + b'\x00' * 50 + b'camera junk')
    assert _load(path)['img'].shape == (64, 64, 3)
    # an EXIF thumbnail (a whole JPEG with its own EOI) before a cut main scan
    im = Image.fromarray(_pattern(64, 64)[:, :, ::-1])
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 1
    im.save(buf, 'JPEG', exif=exif.tobytes())
    full = buf.getvalue()
    sos = full.rfind(b'\xff\xda')
    assert sos > 0
    with pytest.raises(CorruptImageError, match='truncated'):
        decode_image(full[:sos + 200])


# ---------------------------------------------------------------- conversions
def test_grayscale_png_and_jpeg(tmp_path):
    gray = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'g.png'), gray)
    img = _load(tmp_path / 'g.png')['img']
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8
    assert (img == gray[:, :, None]).all()
    Image.fromarray(gray, 'L').save(tmp_path / 'g.jpg', quality=95)
    img = _load(tmp_path / 'g.jpg')['img']
    expected = np.asarray(Image.open(tmp_path / 'g.jpg'))
    assert img.shape == (20, 30, 3) and (img[:, :, 0] == img[:, :, 2]).all()
    assert np.abs(img[:, :, 0].astype(int) - expected).max() <= 1


def test_cmyk_jpeg(tmp_path):
    rgb = _pattern()[:, :, ::-1]
    Image.fromarray(np.ascontiguousarray(rgb)).convert('CMYK').save(tmp_path / 'c.jpg',
                                                                     quality=100)
    assert Image.open(tmp_path / 'c.jpg').mode == 'CMYK'
    img = _load(tmp_path / 'c.jpg')['img']
    expected = np.asarray(Image.open(tmp_path / 'c.jpg').convert('RGB'))[:, :, ::-1]
    assert img.shape == expected.shape == (24, 32, 3) and img.dtype == np.uint8
    assert np.abs(img.astype(int) - expected).mean() < 2
    assert np.abs(img.astype(int) - _pattern()).mean() < 4  # the colours survived


def test_rgba_png_drops_or_composites_alpha(tmp_path):
    bgr = _pattern()
    alpha = RNG.integers(0, 256, bgr.shape[:2], dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), np.dstack([bgr, alpha]))
    assert (_load(tmp_path / 'a.png')['img'] == bgr).all()
    white = _load(tmp_path / 'a.png', alpha_background=(255, 255, 255))['img']
    a = alpha[:, :, None] / 255.0
    assert (white == np.rint(bgr * a + 255 * (1 - a)).astype(np.uint8)).all()
    # gray + alpha
    Image.fromarray(np.dstack([bgr[:, :, 1], alpha]), 'LA').save(tmp_path / 'la.png')
    assert (_load(tmp_path / 'la.png')['img'] == bgr[:, :, 1:2]).all()
    # palette with transparency
    Image.fromarray(bgr[:, :, ::-1].copy()).convert('P').save(tmp_path / 'p.png',
                                                              transparency=0)
    assert _load(tmp_path / 'p.png')['img'].shape == (24, 32, 3)


@pytest.mark.parametrize('channels', [1, 3])
def test_16bit_png(tmp_path, channels):
    shape = (20, 30) if channels == 1 else (20, 30, 3)
    img16 = RNG.integers(0, 65536, shape, dtype=np.uint16)
    img16.flat[:4] = [0, 65535, 257, 128]
    cv2.imwrite(str(tmp_path / 'd.png'), img16)
    out = _load(tmp_path / 'd.png')['img']
    expected = np.rint(img16.astype(np.float64) * 255 / 65535).astype(np.uint8)
    if channels == 1:
        expected = np.repeat(expected[:, :, None], 3, axis=2)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    assert (out == expected).all()


@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_png(tmp_path, orientation):
    rgb = np.ascontiguousarray(_pattern()[:, :, ::-1])
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / 'o.png', exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / 'o.png')).convert('RGB'))
    out = _load(tmp_path / 'o.png')['img']
    assert out.shape == expected.shape
    assert (out == expected[:, :, ::-1]).all()


@pytest.mark.parametrize('orientation', [3, 6, 8])
def test_exif_orientation_jpeg(tmp_path, orientation):
    rgb = np.ascontiguousarray(_pattern(48, 64)[:, :, ::-1])
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / 'o.jpg', exif=exif.tobytes(), quality=98)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / 'o.jpg')).convert('RGB'))
    out = _load(tmp_path / 'o.jpg')['img']
    assert out.shape == expected.shape == ((64, 48, 3) if orientation in (6, 8) else (48, 64, 3))
    assert np.abs(out.astype(int) - expected[:, :, ::-1]).mean() < 1.5


def test_exif_segment_is_found_by_the_marker_walk(tmp_path):
    """Only a JPEG with an EXIF APP1 segment before its scan is parsed for an
    orientation (the others are shown as stored)."""
    from mmdense.datasets.transforms.decoding import jpeg_structure
    rgb = np.ascontiguousarray(_pattern(48, 64)[:, :, ::-1])
    Image.fromarray(rgb).save(tmp_path / 'plain.jpg', quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(tmp_path / 'exif.jpg', exif=exif.tobytes(), quality=95)
    plain = jpeg_structure((tmp_path / 'plain.jpg').read_bytes())
    tagged = jpeg_structure((tmp_path / 'exif.jpg').read_bytes())
    assert not plain.exif and tagged.exif
    assert plain.size == tagged.size == (64, 48) and plain.scans == tagged.scans == 1


def test_orientation_table_matches_pil():
    img = _pattern()
    for orientation, method in {2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180,
                                4: Image.FLIP_TOP_BOTTOM, 5: Image.TRANSPOSE,
                                6: Image.ROTATE_270, 7: Image.TRANSVERSE,
                                8: Image.ROTATE_90}.items():
        expected = np.asarray(Image.fromarray(img).transpose(method))
        assert (apply_orientation(img, orientation) == expected).all(), orientation


def test_small_image_is_cropped_by_upsampling_or_refused(tmp_path):
    from mmcv.transforms import Compose
    from mmdense.registry import TRANSFORMS
    cv2.imwrite(str(tmp_path / 's.png'), _pattern(10, 12))
    pipeline = Compose([dict(type='RobustLoadImageFromFile'),
                        dict(type='TwoViewRandomResizedCrop', size=48, seed=0)])
    out = pipeline(dict(img_path=str(tmp_path / 's.png')))
    assert [v.shape for v in out['img']] == [(48, 48, 3), (48, 48, 3)]
    cv2.imwrite(str(tmp_path / 'one.png'), _pattern(1, 1))
    out = pipeline(dict(img_path=str(tmp_path / 'one.png')))
    assert [v.shape for v in out['img']] == [(48, 48, 3), (48, 48, 3)]
    with pytest.raises(CorruptImageError, match=r's\.png.*too small \(10 x 12 < min_size=16\)'):
        TRANSFORMS.build(dict(type='RobustLoadImageFromFile', min_size=16))(
            dict(img_path=str(tmp_path / 's.png')))


def test_float32_and_options(tmp_path):
    cv2.imwrite(str(tmp_path / 'x.png'), _pattern())
    out = _load(tmp_path / 'x.png', to_float32=True)
    assert out['img'].dtype == np.float32 and out['img_shape'] == (24, 32)
    assert out['ori_shape'] == (24, 32)
    gray = _load(tmp_path / 'x.png', color_type='grayscale')['img']
    assert gray.shape == (24, 32)
    with pytest.raises(ValueError, match='invalid'):
        RobustLoadImageFromFile(invalid='ignore')
    assert RobustLoadImageFromFile(ignore_empty=True).invalid == 'skip'


def test_missing_file_listed_in_coco_json(tmp_path, records):
    from mmdense.registry import DATASETS
    (tmp_path / 'img').mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / 'img' / f'{i}.jpg'), _pattern())
    coco = dict(images=[dict(file_name=f'{i}.jpg') for i in range(3)] +
                [dict(file_name='gone.jpg')])
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    cfg = dict(type='UnlabeledImageDataset', data_root=str(tmp_path), ann_file='ann.json',
               data_prefix=dict(img_path='img/'),
               pipeline=[dict(type='RobustLoadImageFromFile')])
    dataset = DATASETS.build(cfg)
    assert len(dataset) == 4
    with pytest.raises(FileNotFoundError, match=r"image file '.*img/gone\.jpg' not found"):
        dataset[3]
    cfg['pipeline'] = [dict(type='RobustLoadImageFromFile', missing='skip')]
    dataset = DATASETS.build(cfg)
    np.random.seed(0)
    out = dataset[3]  # mmengine re-draws another (existing) image
    assert out['img_path'] != str(tmp_path / 'img' / 'gone.jpg')
    assert records()[0]['path'].endswith('gone.jpg')


def test_shipped_pipeline_runs_with_robust_loader(tmp_path):
    """The SlotCon pipeline with the loader swapped in (the config diff)."""
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from tests.harness.reliability import REPO
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'slotcon', 'slotcon_resnet50_8xb64-coslr-800e_coco.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[0] = dict(type='RobustLoadImageFromFile', invalid='skip')
    cv2.imwrite(str(tmp_path / 'a.jpg'), _pattern(180, 240))
    (tmp_path / 'b.jpg').write_bytes(b'')
    compose = Compose(pipeline)
    out = compose(dict(img_path=str(tmp_path / 'a.jpg')))
    assert [tuple(v.shape) for v in out['inputs']] == [(3, 224, 224), (3, 224, 224)]
    assert compose(dict(img_path=str(tmp_path / 'b.jpg'))) is None
