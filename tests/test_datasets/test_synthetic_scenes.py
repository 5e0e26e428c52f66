# Copyright (c) mmdense contributors. All rights reserved.
import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from mmdense.datasets.synthetic_scenes import (SyntheticSceneDataset,
                                               class_styles, render_scene)

NUM_CLASSES = 8  # defaults: 3 stuff + 5 things


@pytest.fixture(scope='module')
def scenes():
    """50 default scenes: (N, H, W, 3) uint8 images, (N, H, W) uint8 maps."""
    dataset = SyntheticSceneDataset(num_samples=50)
    items = [dataset[i] for i in range(len(dataset))]
    return (np.stack([item['img'] for item in items]),
            np.stack([item['gt_seg_map'] for item in items]))


def test_sample_keys_shapes_and_dtypes():
    dataset = SyntheticSceneDataset(num_samples=4, seed=3)
    assert len(dataset) == 4
    item = dataset[2]
    assert item['img'].shape == (128, 128, 3)
    assert item['img'].dtype == np.uint8
    assert item['gt_seg_map'].shape == (128, 128)
    assert item['gt_seg_map'].dtype == np.uint8
    assert item['img_shape'] == item['ori_shape'] == (128, 128)
    assert item['sample_idx'] == 2
    assert item['img_path'] == 'synthetic://3/2'
    assert item['seg_fields'] == ['gt_seg_map']

    item = SyntheticSceneDataset(num_samples=2, img_size=(96, 64))[1]
    assert item['img'].shape == (96, 64, 3)
    assert item['gt_seg_map'].shape == (96, 64)
    assert item['img_shape'] == item['ori_shape'] == (96, 64)


def test_metainfo():
    dataset = SyntheticSceneDataset(num_samples=1)
    assert dataset.metainfo['classes'] == ('stuff0', 'stuff1', 'stuff2',
                                           'thing0', 'thing1', 'thing2',
                                           'thing3', 'thing4')
    assert len(dataset.metainfo['palette']) == NUM_CLASSES
    assert dataset.num_classes == NUM_CLASSES
    assert SyntheticSceneDataset.METAINFO['classes'] == \
        dataset.metainfo['classes']

    dataset = SyntheticSceneDataset(
        num_samples=1, num_stuff_classes=2, num_thing_classes=10)
    assert dataset.metainfo['classes'][:3] == ('stuff0', 'stuff1', 'thing0')
    assert len(dataset.metainfo['classes']) == 12
    assert len(set(map(tuple, dataset.metainfo['palette']))) == 12


def test_determinism():
    first = SyntheticSceneDataset(num_samples=8)
    again = SyntheticSceneDataset(num_samples=8)
    for key in ('img', 'gt_seg_map'):
        np.testing.assert_array_equal(first[5][key], again[5][key])
        assert not np.array_equal(first[5][key], first[6][key])
    other_seed = SyntheticSceneDataset(num_samples=8, seed=1)
    assert not np.array_equal(first[5]['img'], other_seed[5]['img'])

    img, seg = render_scene(np.random.default_rng([0, 5]), 128, 128)
    np.testing.assert_array_equal(img, first[5]['img'])
    np.testing.assert_array_equal(seg, first[5]['gt_seg_map'])


def test_indices_keep_scene_identity():
    full = SyntheticSceneDataset(num_samples=10)
    subset = SyntheticSceneDataset(num_samples=10, indices=[3, 7])
    assert len(subset) == 2
    item = subset[1]
    assert item['sample_idx'] == 1 and item['scene_idx'] == 7
    np.testing.assert_array_equal(item['img'], full[7]['img'])


def test_class_coverage(scenes):
    _, segs = scenes
    assert segs.max() < NUM_CLASSES
    assert set(np.unique(segs)) == set(range(NUM_CLASSES))
    for seg in segs:
        present = np.unique(seg)
        assert len(present) >= 2
        assert present.min() < 3, 'every scene shows some stuff'
        assert present.max() >= 3, 'every scene shows some thing'
    # no class dominates the pixels
    freq = np.bincount(segs.ravel(), minlength=NUM_CLASSES) / segs.size
    assert freq.min() > 0.01 and freq.max() < 0.5


def test_colour_alone_is_not_enough(scenes):
    """Per-pixel colour classifiers, fitted on 25 scenes and scored on 25
    others, stay far from what colour + texture allow (a small supervised
    CNN reaches > 93% pixel accuracy after 100 steps). The generator gives
    about 21% for the nearest class mean and 57% for a colour-histogram Bayes
    classifier, with 29% for always answering the most frequent class."""
    imgs, segs = scenes
    pixels = imgs.reshape(-1, 3).astype(np.float64)
    labels = segs.ravel()
    train = np.arange(len(labels)) < len(labels) // 2

    means = np.stack([
        pixels[train & (labels == c)].mean(axis=0) for c in range(NUM_CLASSES)
    ])
    dist = ((pixels[~train, None, :] - means[None])**2).sum(-1)
    nearest_mean_acc = (dist.argmin(1) == labels[~train]).mean()
    assert nearest_mean_acc < 0.5

    bins = (imgs.reshape(-1, 3) // 16).astype(np.int64) @ [256, 16, 1]
    hist = np.zeros((16**3, NUM_CLASSES))
    np.add.at(hist, (bins[train], labels[train]), 1)
    bayes_acc = (hist[bins[~train]].argmax(1) == labels[~train]).mean()
    assert bayes_acc < 0.75


def test_classes_sharing_colours_differ_in_texture():
    styles = class_styles(3, 5)
    for a, b in zip(styles[0::2], styles[1::2]):
        np.testing.assert_array_equal(a.tones, b.tones)
        assert (a.texture, a.period, a.angle) != (b.texture, b.period,
                                                  b.angle)
    assert len({s.shape for s in styles[3:]}) == 5


def test_render_scene_options():
    rng = np.random.default_rng(0)
    img, seg = render_scene(
        rng, 40, 72, num_stuff_classes=2, num_thing_classes=0)
    assert img.shape == (40, 72, 3) and seg.shape == (40, 72)
    assert seg.max() < 2

    img, seg = render_scene(rng, 64, 64, objects_per_image=(0, 0))
    assert seg.max() < 3

    # the noise is drawn last: same scene, plus noise of the given std
    clean, seg = render_scene(np.random.default_rng(3), 64, 64, noise_std=0)
    noisy, seg_noisy = render_scene(np.random.default_rng(3), 64, 64)
    np.testing.assert_array_equal(seg, seg_noisy)
    noise = noisy.astype(np.float64) - clean
    assert abs(noise.mean()) < 0.5
    assert 5.0 < noise.std() < 7.0


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_samples=0), 'num_samples'),
    (dict(img_size=4), 'img_size'),
    (dict(img_size=(64, 64, 3)), 'img_size'),
    (dict(num_stuff_classes=0), 'num_stuff_classes'),
    (dict(num_thing_classes=-1), 'num_thing_classes'),
    (dict(num_stuff_classes=1, num_thing_classes=0), 'num_thing_classes'),
    (dict(num_thing_classes=300), 'num_thing_classes'),
    (dict(objects_per_image=(3, 2)), 'objects_per_image'),
    (dict(objects_per_image=(1.5, 2)), 'objects_per_image'),
    (dict(objects_per_image=5), 'objects_per_image'),
    (dict(object_scale=(0.5, 0.2)), 'object_scale'),
    (dict(object_scale=(0.1, 1.5)), 'object_scale'),
    (dict(object_scale=(0, 0.5)), 'object_scale'),
    (dict(seed=-1), 'seed'),
    (dict(noise_std=-1.0), 'noise_std'),
])
def test_bad_args(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SyntheticSceneDataset(**kwargs)


def test_dataloader_workers_match_in_process():
    dataset = SyntheticSceneDataset(num_samples=6, img_size=64, seed=11)
    loader = DataLoader(
        dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate)
    batches = list(loader)
    assert sum(len(b['img']) for b in batches) == 6
    for i, batch in enumerate(batches):
        for j in range(2):
            expected = dataset[2 * i + j]
            assert batch['sample_idx'][j] == 2 * i + j
            np.testing.assert_array_equal(batch['img'][j], expected['img'])
            np.testing.assert_array_equal(batch['gt_seg_map'][j],
                                          expected['gt_seg_map'])


def test_mmseg_pipeline():
    from mmcv.transforms import RandomFlip
    from mmseg.datasets.transforms import PackSegInputs
    plain = SyntheticSceneDataset(num_samples=2, img_size=(48, 64))[1]
    dataset = SyntheticSceneDataset(
        num_samples=2,
        img_size=(48, 64),
        pipeline=[
            RandomFlip(prob=1.0, direction='horizontal'),
            PackSegInputs()
        ])
    packed = dataset[1]
    assert tuple(packed['inputs'].shape) == (3, 48, 64)
    sample = packed['data_samples']
    assert sample.img_path == 'synthetic://0/1'
    assert sample.ori_shape == (48, 64)
    gt = sample.gt_sem_seg.data.numpy()
    assert gt.shape == (1, 48, 64)
    np.testing.assert_array_equal(gt[0], plain['gt_seg_map'][:, ::-1])
    np.testing.assert_array_equal(packed['inputs'].numpy(),
                                  plain['img'][:, ::-1].transpose(2, 0, 1))


def test_build_from_config():
    from mmengine.dataset import ConcatDataset

    from mmdense.registry import DATASETS
    cfg = dict(type='SyntheticSceneDataset', num_samples=3, img_size=32)
    dataset = DATASETS.build(cfg)
    assert isinstance(dataset, SyntheticSceneDataset)
    assert dataset[2]['img'].shape == (32, 32, 3)
    both = ConcatDataset([dataset, DATASETS.build(dict(cfg, seed=5))])
    assert len(both) == 6
    assert both[4]['img_path'] == 'synthetic://5/1'
