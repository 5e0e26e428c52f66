# Copyright (c) mmdense contributors. All rights reserved.
import torch

from mmdense.models.utils import compact_region_ids, segment_mean_pool


def _loop_reference(features, segments, ignore_index=-1):
    pooled, batch_index, region_id = [], [], []
    for b in range(features.shape[0]):
        for k in sorted(set(segments[b].flatten().tolist())):
            if k < 0 or k == ignore_index:
                continue
            mask = segments[b] == k
            pooled.append(features[b][:, mask].mean(dim=1))
            batch_index.append(b)
            region_id.append(k)
    return torch.stack(pooled), torch.tensor(batch_index), torch.tensor(region_id)


def _example():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(3, 5, 4, 6, generator=gen)
    segments = torch.randint(0, 4, (3, 4, 6), generator=gen)
    segments[0][segments[0] == 2] = 7  # region 2 absent in image 0, id 7 present
    segments[1] = torch.randint(0, 2, (4, 6), generator=gen)  # fewer regions
    segments[1, 0, :3] = -1  # ignored pixels
    segments[2, :, :2] = 255
    return features, segments


def test_matches_loop_reference_with_varying_region_counts():
    features, segments = _example()
    pooled, batch_index, region_id = segment_mean_pool(features, segments, ignore_index=255)
    ref = _loop_reference(features, segments, ignore_index=255)
    torch.testing.assert_close(pooled, ref[0])
    assert batch_index.tolist() == ref[1].tolist()
    assert region_id.tolist() == ref[2].tolist()
    assert 2 not in region_id[batch_index == 0].tolist()
    assert 255 not in region_id.tolist() and -1 not in region_id.tolist()
    counts = torch.bincount(batch_index, minlength=3)
    assert counts[1] == 2 and counts[0] != counts[1]


def test_image_without_regions_and_gradients():
    features, segments = _example()
    segments[1] = -1  # whole image ignored: contributes nothing
    features.requires_grad_(True)
    pooled, batch_index, _ = segment_mean_pool(features, segments, ignore_index=255)
    assert 1 not in batch_index.tolist()
    pooled.sum().backward()
    assert torch.isfinite(features.grad).all()
    assert features.grad[1].abs().sum() == 0  # ignored pixels get no gradient
    assert features.grad[0].abs().sum() > 0
    # a region's pixels share 1 / count of every pooled output's gradient
    mask = segments[0] == 0
    expected = 1. / mask.sum()
    torch.testing.assert_close(features.grad[0, :, mask], torch.full((5, int(mask.sum())),
                                                                    float(expected)))


def test_compact_ids_and_all_ignored():
    segments = torch.tensor([[[5, 5], [-1, 9]], [[0, 9], [9, 9]]])
    compact, batch_index, region_id = compact_region_ids(segments)
    assert compact.tolist() == [[[0, 0], [-1, 1]], [[2, 3], [3, 3]]]
    assert batch_index.tolist() == [0, 0, 1, 1] and region_id.tolist() == [5, 9, 0, 9]
    pooled, batch_index, region_id = segment_mean_pool(torch.randn(2, 3, 2, 2),
                                                       torch.full((2, 2, 2), -1))
    assert pooled.shape == (0, 3) and batch_index.numel() == 0 and region_id.numel() == 0


def test_half_features_keep_dtype():
    features, segments = _example()
    pooled, _, _ = segment_mean_pool(features.to(torch.bfloat16), segments, ignore_index=255)
    assert pooled.dtype == torch.bfloat16


def test_dense_and_sparse_ids_number_regions_alike():
    """The presence-table numbering (dense ids) and torch.unique's (sparse
    ids, e.g. 32-bit labels) give the same compact ids, and pooling with
    either equals a per-region loop."""
    from mmdense.models.utils import compact_region_ids, segment_mean_pool
    gen = torch.Generator().manual_seed(0)
    dense = torch.randint(-1, 7, (3, 5, 6), generator=gen)
    dense[1][dense[1] == 3] = 5  # an id missing from one image
    sparse = torch.where(dense >= 0, dense * 100_000_000 + 12345, dense)  # same partition
    c_dense, b_dense, _ = compact_region_ids(dense)
    c_sparse, b_sparse, r_sparse = compact_region_ids(sparse)
    assert torch.equal(c_dense, c_sparse) and torch.equal(b_dense, b_sparse)
    assert set(r_sparse.tolist()) <= {v * 100_000_000 + 12345 for v in range(7)}
    feats = torch.randn(3, 4, 5, 6, generator=gen, dtype=torch.float64)
    for segments in (dense, sparse):
        pooled, batch_index, region_id = segment_mean_pool(feats, segments)
        for r in range(len(batch_index)):
            mask = segments[batch_index[r]] == region_id[r]
            want = feats[batch_index[r]][:, mask].mean(1)
            torch.testing.assert_close(pooled[r], want)


def _upsampled_reference(features, segments, ignore_index=-1):
    import torch.nn.functional as F
    full = F.interpolate(features, size=segments.shape[-2:], mode='bilinear',
                         align_corners=False)
    return segment_mean_pool(F.normalize(full, dim=1), segments, ignore_index)


def test_upsampled_unit_mean_pool_equals_normalise_then_pool():
    """The low-resolution computation equals upsample -> normalise -> pool, forward and
    backward (float64 inputs: differences are rounding of float32 internals)."""
    from mmdense.models.utils import upsampled_unit_mean_pool
    gen = torch.Generator().manual_seed(0)
    for low, high in (((5, 7), (20, 28)), ((6, 6), (17, 23)), ((4, 4), (4, 4)), ((3, 5), (30, 11)),
                      ((1, 4), (5, 16)), ((4, 1), (9, 3)), ((8, 8), (5, 5))):
        features = torch.randn(3, 6, *low, generator=gen, dtype=torch.float64, requires_grad=True)
        segments = torch.randint(-1, 6, (3, *high), generator=gen)
        segments[1] = -1  # an image without any region
        segments[2][segments[2] == 4] = 255
        want = _upsampled_reference(features, segments, ignore_index=255)
        got = upsampled_unit_mean_pool(features, segments, ignore_index=255)
        assert got[0].dtype == torch.float64
        assert torch.equal(got[1], want[1]) and torch.equal(got[2], want[2])
        torch.testing.assert_close(got[0], want[0], atol=1e-6, rtol=1e-5)
        weights = torch.randn(want[0].shape, generator=gen, dtype=torch.float64)
        grad_want, = torch.autograd.grad((want[0] * weights).sum(), features)
        grad_got, = torch.autograd.grad((got[0] * weights).sum(), features)
        torch.testing.assert_close(grad_got, grad_want, atol=1e-5, rtol=1e-4)


def test_upsampled_unit_mean_pool_edge_cases():
    from mmdense.models.utils import upsampled_unit_mean_pool
    features = torch.randn(2, 3, 4, 4)
    pooled, batch_index, _ = upsampled_unit_mean_pool(features, torch.full((2, 8, 8), -1))
    assert pooled.shape == (0, 3) and batch_index.numel() == 0
    # a zero feature map: F.normalize's eps keeps it zero, no NaN
    zero = torch.zeros(1, 3, 2, 2, requires_grad=True)
    pooled, _, _ = upsampled_unit_mean_pool(zero, torch.zeros(1, 4, 4, dtype=torch.long))
    assert torch.equal(pooled, torch.zeros(1, 3))
    pooled.sum().backward()
    assert torch.isfinite(zero.grad).all()
    with __import__('pytest').raises(ValueError, match='segments'):
        upsampled_unit_mean_pool(features, torch.zeros(3, 8, 8, dtype=torch.long))


def test_upsampled_unit_mean_pool_near_zero_mixes_and_autocast():
    """Neighbours pointing (almost) opposite: the upsampled vector is ~1e-4 of its taps; the
    norms are computed in float64, so no pixel's 1 / |u| explodes (a float32 expansion gave
    region means of norm ~1e8). Under autocast the sums stay in float32."""
    import torch.nn.functional as F

    from mmdense.models.utils import upsampled_unit_mean_pool
    gen = torch.Generator().manual_seed(0)
    direction = torch.randn(128, generator=gen)
    other = torch.randn(128, generator=gen)
    features = torch.stack([direction, -3 * direction + 1e-3 * other], -1)[None, :, None, :]
    segments = torch.zeros(1, 1, 4, dtype=torch.long)
    want = _upsampled_reference(features.double(), segments)[0]
    got = upsampled_unit_mean_pool(features, segments)[0]
    assert got.norm() <= 1 + 1e-5
    torch.testing.assert_close(got.double(), want, atol=1e-4, rtol=1e-4)
    # rank-one maps with sign changes (a collapsed embedding) over many regions
    sign = torch.randint(0, 2, (2, 1, 16, 16), generator=gen).float() * 2 - 1
    collapsed = sign * direction[None, :, None, None]
    regions = torch.randint(0, 300, (2, 64, 64), generator=gen)
    pooled = upsampled_unit_mean_pool(collapsed, regions)[0]
    assert pooled.norm(dim=1).max() <= 1 + 1e-5
    torch.testing.assert_close(pooled.double(), _upsampled_reference(collapsed.double(), regions)[0],
                               atol=1e-4, rtol=1e-4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pooled_amp = upsampled_unit_mean_pool(collapsed, regions)[0]
    assert pooled_amp.dtype == torch.float32
    torch.testing.assert_close(pooled_amp, pooled)


def test_segment_mean_pool_accepts_non_contiguous_segments():
    features, segments = _example()
    transposed = segments.transpose(1, 2).contiguous().transpose(1, 2)  # same values, strided
    assert not transposed.is_contiguous()
    for got, want in zip(segment_mean_pool(features, transposed), segment_mean_pool(features, segments)):
        assert torch.equal(got, want)
