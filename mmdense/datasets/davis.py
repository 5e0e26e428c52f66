# Copyright (c) mmdense contributors. All rights reserved.
"""A reader of the DAVIS 2017 folder layout (semi-supervised task).

::

    DAVIS/
        JPEGImages/480p/<sequence>/00000.jpg ...
        Annotations/480p/<sequence>/00000.png ...   palette PNGs: 0 background,
                                                     1..N objects (255 void)
        ImageSets/2017/val.txt                      one sequence name a line

Annotations are *indexed* PNGs: they are read with PIL, which returns the
palette indices (the object ids), never with OpenCV, which would return the
palette colours. Used by :func:`mmdense.evaluation.video.run_davis_propagation`
and ``tools/analysis_tools/video_propagation.py``.
"""
import glob
import os.path as osp
from typing import Iterator, List, Optional, Sequence

import numpy as np


def read_indexed_png(path: str) -> np.ndarray:
    """(H, W) uint8 palette indices of a PNG (a grey PNG: its values)."""
    from PIL import Image
    with Image.open(path) as img:
        if img.mode not in ('P', 'L'):
            raise ValueError(f'{path}: expected an indexed (palette) or grey PNG, '
                             f'got mode {img.mode}')
        return np.array(img, dtype=np.uint8)


def read_palette(path: str) -> Optional[List[int]]:
    """The flat RGB palette of an indexed PNG (None for a grey one)."""
    from PIL import Image
    with Image.open(path) as img:
        return img.getpalette() if img.mode == 'P' else None


def default_palette() -> List[int]:
    """DAVIS' palette (the PASCAL VOC colour map): 256 RGB triplets, flat."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def write_indexed_png(path: str, label: np.ndarray, palette: Optional[Sequence[int]] = None) -> None:
    """Write an (H, W) label map as an indexed PNG (the DAVIS result format)."""
    from PIL import Image
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'expected an (H, W) label map, got shape {label.shape}')
    img = Image.fromarray(label.astype(np.uint8), mode='P')
    img.putpalette(list(palette) if palette is not None else default_palette())
    img.save(path, format='PNG')


class DAVIS2017:
    """Sequences, frames and annotations of a DAVIS 2017 folder.

    Args:
        data_root (str): The folder holding ``JPEGImages``, ``Annotations``
            and ``ImageSets``.
        split (str): ``ImageSets/<year>/<split>.txt``. Defaults to 'val'.
        resolution (str): '480p' (default) or 'Full-Resolution'.
        sequences (Sequence[str], optional): Use these sequences instead of
            the split's list.
        year (str): Defaults to '2017'.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'val',
                 resolution: str = '480p',
                 sequences: Optional[Sequence[str]] = None,
                 year: str = '2017') -> None:
        self.data_root = data_root
        self.img_dir = osp.join(data_root, 'JPEGImages', resolution)
        self.ann_dir = osp.join(data_root, 'Annotations', resolution)
        if not osp.isdir(self.img_dir):
            raise FileNotFoundError(f'DAVIS frames not found: {self.img_dir}')
        if not osp.isdir(self.ann_dir):
            raise FileNotFoundError(f'DAVIS annotations not found: {self.ann_dir}')
        if sequences is None:
            list_file = osp.join(data_root, 'ImageSets', year, f'{split}.txt')
            if not osp.isfile(list_file):
                raise FileNotFoundError(f'DAVIS sequence list not found: {list_file}')
            with open(list_file) as f:
                sequences = [line.strip() for line in f if line.strip()]
        self.sequences = list(sequences)
        if not self.sequences:
            raise ValueError(f'no sequence listed for DAVIS {split} in {data_root}')

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[str]:
        return iter(self.sequences)

    def frame_paths(self, sequence: str) -> List[str]:
        paths = sorted(glob.glob(osp.join(self.img_dir, sequence, '*.jpg')))
        if not paths:
            raise FileNotFoundError(f'no frame of sequence {sequence!r} in {self.img_dir}')
        return paths

    def annotation_paths(self, sequence: str) -> List[str]:
        """The annotation of every frame (raises if one is missing)."""
        frames = self.frame_paths(sequence)
        paths = [osp.join(self.ann_dir, sequence, osp.splitext(osp.basename(p))[0] + '.png')
                 for p in frames]
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(f'sequence {sequence!r}: {len(missing)} frame(s) without '
                                    f'annotation, e.g. {missing[0]}')
        return paths

    def read_frames(self, sequence: str) -> List[np.ndarray]:
        """(H, W, 3) BGR uint8 frames, in order."""
        import cv2
        frames = []
        for path in self.frame_paths(sequence):
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise OSError(f'cannot read frame {path}')
            frames.append(img)
        return frames

    def read_annotations(self, sequence: str) -> List[np.ndarray]:
        """(H, W) uint8 object ids of every frame."""
        return [read_indexed_png(p) for p in self.annotation_paths(sequence)]

    def first_annotation(self, sequence: str) -> np.ndarray:
        path = osp.join(self.ann_dir, sequence,
                        osp.splitext(osp.basename(self.frame_paths(sequence)[0]))[0] + '.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'sequence {sequence!r}: first-frame annotation {path} missing')
        return read_indexed_png(path)

    def palette(self, sequence: str) -> Optional[List[int]]:
        """The palette of the sequence's first annotation (None if grey)."""
        path = osp.join(self.ann_dir, sequence,
                        osp.splitext(osp.basename(self.frame_paths(sequence)[0]))[0] + '.png')
        return read_palette(path)
