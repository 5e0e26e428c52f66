# Copyright (c) mmdense contributors. All rights reserved.
import pytest
import torch

from mmdense.models.utils import map_to_tokens, patch_centers, tokens_to_map


def test_round_trip_and_layout():
    tokens = torch.randn(2, 1 + 3 * 4, 5)
    fmap = tokens_to_map(tokens, hw=(3, 4), num_extra_tokens=1)
    assert fmap.shape == (2, 5, 3, 4)
    torch.testing.assert_close(fmap[:, :, 1, 2], tokens[:, 1 + 1 * 4 + 2])  # row-major
    torch.testing.assert_close(map_to_tokens(fmap), tokens[:, 1:])
    square = torch.randn(2, 9, 5)
    torch.testing.assert_close(map_to_tokens(tokens_to_map(square, num_extra_tokens=0)), square)
    with pytest.raises(ValueError):
        tokens_to_map(tokens, hw=(4, 4))


def test_patch_centers_plain_and_flipped():
    crops = torch.tensor([[10., 20., 50., 100.], [10., 20., 50., 100.]])
    flips = torch.tensor([False, True])
    centers = patch_centers(crops, flips, grid=(2, 4))
    assert centers.shape == (2, 8, 2)
    xs = [15., 25., 35., 45.]
    ys = [40., 80.]
    expected = torch.tensor([[x, y] for y in ys for x in xs])
    torch.testing.assert_close(centers[0], expected)
    flipped = torch.tensor([[x, y] for y in ys for x in xs[::-1]])
    torch.testing.assert_close(centers[1], flipped)  # column 0 is the crop's right edge
    # patch order matches map_to_tokens: token t = i * w + j
    assert centers[0, 5].tolist() == [25., 80.]


def test_patch_centers_are_mean_pixel_positions():
    """A 2x2 grid over an 8x4 view of crop (0, 0, 8, 4): mean of pixel centres."""
    crops = torch.tensor([[0., 0., 8., 4.]])
    centers = patch_centers(crops, torch.tensor([False]), grid=(2, 2))
    px = torch.arange(8.) + 0.5
    py = torch.arange(4.) + 0.5
    torch.testing.assert_close(centers[0, 1], torch.stack([px[4:].mean(), py[:2].mean()]))
    assert patch_centers(crops.long(), torch.tensor([True]), (2, 2)).dtype == torch.float32
