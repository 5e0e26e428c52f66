# Copyright (c) mmdense contributors. All rights reserved.
"""SLIC region maps: recovery of flat regions, the cache, bad cache files."""
import numpy as np
import pytest

from mmdense.datasets.transforms.superpixels import (Superpixels, SuperpixelFileError,
                                                     has_opencv_slic, load_superpixels,
                                                     save_superpixels, slic_superpixels,
                                                     superpixel_cache_path)

BACKENDS = ['skimage'] + (['opencv'] if has_opencv_slic() else [])


def flat_quadrants(size: int = 80) -> tuple:
    """An image of four flat, very different colours and its true partition."""
    colours = np.array([[20, 20, 220], [220, 30, 30], [30, 200, 40], [240, 240, 240]], np.uint8)
    truth = np.zeros((size, size), np.int64)
    half = size // 2
    truth[:half, half:] = 1
    truth[half:, :half] = 2
    truth[half:, half:] = 3
    return colours[truth], truth


@pytest.mark.parametrize('backend', BACKENDS)
def test_slic_recovers_flat_regions(backend):
    img, truth = flat_quadrants()
    labels = slic_superpixels(img, region_size=20, ruler=10., num_iters=5, blur_size=0,
                              backend=backend)
    assert labels.shape == truth.shape and labels.dtype == np.int32
    assert labels.min() == 0 and np.array_equal(np.unique(labels), np.arange(labels.max() + 1))
    # every superpixel lies inside one true region (no region straddles a colour edge)
    for region in np.unique(labels):
        assert len(np.unique(truth[labels == region])) == 1, region
    # about (80 / 20)^2 regions
    assert 4 <= labels.max() + 1 <= 40


def _results(tmp_path, img, name='a/img.jpg'):
    return dict(img=img, img_path=str(tmp_path / 'images' / name))


def test_cache_is_read_when_present_and_computed_otherwise(tmp_path):
    img, _ = flat_quadrants(40)
    cached = np.arange(40 * 40, dtype=np.int32).reshape(40, 40) % 7
    path = superpixel_cache_path(str(tmp_path / 'images' / 'a' / 'img.jpg'), str(tmp_path / 'sp'),
                                 str(tmp_path / 'images'))
    assert path == str(tmp_path / 'sp' / 'a' / 'img.npz')
    save_superpixels(path, cached)
    t = Superpixels(cache_dir=str(tmp_path / 'sp'), img_root=str(tmp_path / 'images'))
    out = t(_results(tmp_path, img))
    assert np.array_equal(out['superpixels'], cached) and out['seg_fields'] == ['superpixels']
    # no cache file: SLIC online (missing='compute')
    out = t(_results(tmp_path, img, 'b/other.jpg'))
    assert np.array_equal(out['superpixels'], t.compute(img))
    with pytest.raises(FileNotFoundError, match='other.npz'):
        Superpixels(cache_dir=str(tmp_path / 'sp'), img_root=str(tmp_path / 'images'),
                    missing='raise')(_results(tmp_path, img, 'b/other.jpg'))


@pytest.mark.parametrize('content, problem', [
    (b'not a zip file', 'cannot be read'),
    ('wrong_size', 'differs from the image'),
    ('wrong_key', "no 'superpixels' array"),
])
def test_bad_cache_file_names_file_or_is_a_recorded_skip(tmp_path, records, content, problem):
    img, _ = flat_quadrants(40)
    path = superpixel_cache_path(str(tmp_path / 'images' / 'a' / 'img.jpg'), str(tmp_path / 'sp'),
                                 str(tmp_path / 'images'))
    import os
    os.makedirs(tmp_path / 'sp' / 'a', exist_ok=True)
    if content == 'wrong_size':
        save_superpixels(path, np.zeros((30, 40), np.int32))
    elif content == 'wrong_key':
        np.savez_compressed(path[:-4], labels=np.zeros((40, 40)))
    else:
        open(path, 'wb').write(content)
    kwargs = dict(cache_dir=str(tmp_path / 'sp'), img_root=str(tmp_path / 'images'))
    with pytest.raises(SuperpixelFileError) as err:
        Superpixels(**kwargs)(_results(tmp_path, img))
    assert path in str(err.value) and problem in str(err.value)
    assert Superpixels(invalid='skip', **kwargs)(_results(tmp_path, img)) is None
    (record, ) = records()
    assert record['path'] == path and problem in record['reason']
    assert record['kind'] == 'superpixel map'


def test_load_rejects_negative_ids(tmp_path):
    path = str(tmp_path / 'x.npz')
    np.savez_compressed(path, superpixels=-np.ones((4, 4), np.int32))
    with pytest.raises(SuperpixelFileError, match='negative'):
        load_superpixels(path, (4, 4))


def test_opencv_backend_without_contrib_is_a_clear_error():
    if has_opencv_slic():
        pytest.skip('opencv-contrib is installed')
    with pytest.raises(ImportError, match='opencv-contrib'):
        Superpixels(backend='opencv')
