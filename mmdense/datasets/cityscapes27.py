# Copyright (c) mmdense contributors. All rights reserved.
"""Cityscapes-27: the Cityscapes protocol of unsupervised semantic segmentation.

PiCIE and STEGO (and the methods compared with them, e.g. ViCE's Cityscapes
results) evaluate on Cityscapes *label ids* (``*_gtFine_labelIds.png``, the
34 ids 0..33 of ``cityscapesScripts/helpers/labels.py``), not on the 19
train ids of the supervised benchmark. STEGO's ``CityscapesSeg`` sets
``first_nonvoid = 7`` and maps ``target - 7``, negatives to -1 (ignored):
the 7 ids of the *void* category (0 unlabeled, 1 ego vehicle, 2
rectification border, 3 out of roi, 4 static, 5 dynamic, 6 ground) are
ignored and the other 27 ids 7..33 become classes 0..26, in id order. Values
that are not label ids (255; license plate is id -1, i.e. not in 0..33) are
ignored as well (STEGO's metric skips ids outside 0..26).

Implemented here as a lookup table applied when the label PNG is loaded
(mmseg's ``LoadAnnotations`` applies the dataset's ``label_map``), so the
original Cityscapes files are read as they are; no conversion step.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmseg.datasets import BaseSegDataset

from mmdense.registry import DATASETS
from .coco_stuff27 import IGNORE_INDEX, lut_from_table

#: Cityscapes label id of the first non-void class (STEGO's ``first_nonvoid``).
FIRST_NONVOID = 7
#: The 34 Cityscapes label ids 0..33 (cityscapesScripts ``labels.py``).
NUM_LABEL_IDS = 34
VOID_LABELS: Tuple[str, ...] = ('unlabeled', 'ego vehicle', 'rectification border',
                                'out of roi', 'static', 'dynamic', 'ground')
#: Classes 0..26 = label ids 7..33.
CITYSCAPES27_CLASSES: Tuple[str, ...] = (
    'road', 'sidewalk', 'parking', 'rail track', 'building', 'wall', 'fence',
    'guard rail', 'bridge', 'tunnel', 'pole', 'polegroup', 'traffic light',
    'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car',
    'truck', 'bus', 'caravan', 'trailer', 'train', 'motorcycle', 'bicycle')
#: Cityscapes' colours of label ids 7..33.
CITYSCAPES27_PALETTE = [
    [128, 64, 128], [244, 35, 232], [250, 170, 160], [230, 150, 140], [70, 70, 70],
    [102, 102, 156], [190, 153, 153], [180, 165, 180], [150, 100, 100], [150, 120, 90],
    [153, 153, 153], [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35],
    [152, 251, 152], [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142],
    [0, 0, 70], [0, 60, 100], [0, 0, 90], [0, 0, 110], [0, 80, 100], [0, 0, 230],
    [119, 11, 32]]
assert len(CITYSCAPES27_CLASSES) == len(CITYSCAPES27_PALETTE) == NUM_LABEL_IDS - FIRST_NONVOID


def label_id_to_27_table() -> Dict[int, int]:
    """``{label id: class}`` for the 34 Cityscapes label ids (void -> 255)."""
    return {i: (i - FIRST_NONVOID if i >= FIRST_NONVOID else IGNORE_INDEX)
            for i in range(NUM_LABEL_IDS)}


def label_id_to_27_lut() -> np.ndarray:
    """(256,) uint8 lookup table: ids 7..33 -> 0..26, everything else -> 255."""
    return lut_from_table(label_id_to_27_table())


_LUT = label_id_to_27_lut()


def map_label_ids_to_27(label: np.ndarray) -> np.ndarray:
    """Map a ``*_gtFine_labelIds.png`` map (H, W) to Cityscapes-27 ids.

    Ids 7..33 become 0..26; the void ids 0..6 and any value outside 0..33
    (negative, 255 ...) become 255 (ignored).
    """
    label = np.asarray(label)
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f'expected an (H, W) integer label map, got {label.dtype} {label.shape}')
    clipped = np.where((label >= 0) & (label <= 255), label, IGNORE_INDEX).astype(np.int64)
    return _LUT[clipped]


@DATASETS.register_module()
class Cityscapes27Dataset(BaseSegDataset):
    """Cityscapes with the 27 classes of PiCIE / STEGO's unsupervised protocol.

    Reads the standard Cityscapes layout with the **label-id** PNGs::

        data/cityscapes/
            leftImg8bit/val/<city>/<stem>_leftImg8bit.png
            gtFine/val/<city>/<stem>_gtFine_labelIds.png

    and maps label ids to classes while loading (``label_map``, see the module
    docstring): ids 7..33 -> 0..26, void and unknown ids -> 255. A class
    subset given as ``metainfo=dict(classes=...)`` (mmseg's mechanism) is
    applied on top of that mapping.

    Args:
        img_suffix (str): Defaults to '_leftImg8bit.png'.
        seg_map_suffix (str): Defaults to '_gtFine_labelIds.png'.
        **kwargs: mmseg ``BaseSegDataset`` arguments.
    """
    METAINFO = dict(classes=CITYSCAPES27_CLASSES, palette=CITYSCAPES27_PALETTE)

    def __init__(self,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelIds.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError('Cityscapes27Dataset: reduce_zero_label must be False '
                             '(the void ids are mapped by the dataset)')
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=False, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence] = None) -> Dict[int, int]:
        """Label id -> class id (then -> subset id when ``new_classes`` is a
        subset of :data:`CITYSCAPES27_CLASSES`)."""
        subset = super().get_label_map(new_classes)  # class -> subset class, or None
        table = label_id_to_27_table()
        if subset is not None:
            table = {i: (subset.get(c, IGNORE_INDEX) if c != IGNORE_INDEX else IGNORE_INDEX)
                     for i, c in table.items()}
        return table

    def _update_palette(self) -> list:
        """The colours of the selected classes (the label map here is keyed by
        label id, which mmseg's palette update would take for a class id)."""
        colours = dict(zip(CITYSCAPES27_CLASSES, CITYSCAPES27_PALETTE))
        palette = self._metainfo.get('palette', [])
        classes = self._metainfo.get('classes', [])
        if len(palette) == len(classes):
            return palette
        return [colours[c] for c in classes]
