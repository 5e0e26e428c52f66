# Copyright (c) mmdense contributors. All rights reserved.
"""COCO-Stuff-27: COCO-Stuff 164k merged into 27 coarse classes.

The unsupervised-segmentation benchmark of PiCIE, STEGO and SlotCon: the 182
fine COCO-Stuff classes are merged into their super-categories, 12 *thing*
ones (ids 0-11) and 15 *stuff* ones (ids 12-26); unlabeled pixels are 255.

The coarse ids follow COCO-Stuff's label hierarchy, read depth-first:
things/indoor, things/outdoor, stuff/indoor, stuff/outdoor, each level in
the hierarchy's order. The fine-to-coarse table below is written from that
published hierarchy (each fine class with its COCO category id and its
super-category); :func:`fine_to_coarse_lut` derives the lookup table the
label PNGs need (PNG value = COCO id - 1, 255 = unlabeled).

``tools/dataset_converters/cocostuff27.py`` converts the COCO-Stuff label
PNGs to this 27-class format; :class:`CocoStuff27Dataset` loads the result.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmseg.datasets import BaseSegDataset

from mmdense.registry import DATASETS

IGNORE_INDEX = 255
#: Largest valid fine id in the COCO-Stuff 164k label PNGs (COCO id 182).
MAX_FINE_ID = 181

# Coarse classes: 12 thing super-categories then 15 stuff super-categories.
# COCO-Stuff calls the stuff super-categories that share a name with a thing
# one ``food-stuff`` and ``furniture-stuff``.
THING_SUPERCATEGORIES: Tuple[str, ...] = (
    # things / indoor
    'electronic', 'appliance', 'food', 'furniture', 'indoor', 'kitchen',
    # things / outdoor
    'accessory', 'animal', 'outdoor', 'person', 'sports', 'vehicle')
STUFF_SUPERCATEGORIES: Tuple[str, ...] = (
    # stuff / indoor
    'ceiling', 'floor', 'food-stuff', 'furniture-stuff', 'raw-material',
    'textile', 'wall', 'window',
    # stuff / outdoor
    'building', 'ground', 'plant', 'sky', 'solid', 'structural', 'water')
COARSE_CLASSES: Tuple[str, ...] = THING_SUPERCATEGORIES + STUFF_SUPERCATEGORIES
NUM_THING_CLASSES = len(THING_SUPERCATEGORIES)  # 12
NUM_STUFF_CLASSES = len(STUFF_SUPERCATEGORIES)  # 15

# COCO-Stuff's fine classes by super-category: (COCO category id, name).
# Things are COCO's 91 ids 1-91 (the 11 ids COCO never annotated, e.g. 12
# 'street sign' or 26 'hat', included: they never occur in the PNGs), stuff
# the 91 ids 92-182.
FINE_HIERARCHY: Dict[str, Tuple[Tuple[int, str], ...]] = {
    # ---- things
    'person': ((1, 'person'), ),
    'vehicle': ((2, 'bicycle'), (3, 'car'), (4, 'motorcycle'),
                (5, 'airplane'), (6, 'bus'), (7, 'train'), (8, 'truck'),
                (9, 'boat')),
    'outdoor': ((10, 'traffic light'), (11, 'fire hydrant'),
                (12, 'street sign'), (13, 'stop sign'),
                (14, 'parking meter'), (15, 'bench')),
    'animal': ((16, 'bird'), (17, 'cat'), (18, 'dog'), (19, 'horse'),
               (20, 'sheep'), (21, 'cow'), (22, 'elephant'), (23, 'bear'),
               (24, 'zebra'), (25, 'giraffe')),
    'accessory': ((26, 'hat'), (27, 'backpack'), (28, 'umbrella'),
                  (29, 'shoe'), (30, 'eye glasses'), (31, 'handbag'),
                  (32, 'tie'), (33, 'suitcase')),
    'sports': ((34, 'frisbee'), (35, 'skis'), (36, 'snowboard'),
               (37, 'sports ball'), (38, 'kite'), (39, 'baseball bat'),
               (40, 'baseball glove'), (41, 'skateboard'), (42, 'surfboard'),
               (43, 'tennis racket')),
    'kitchen': ((44, 'bottle'), (45, 'plate'), (46, 'wine glass'),
                (47, 'cup'), (48, 'fork'), (49, 'knife'), (50, 'spoon'),
                (51, 'bowl')),
    'food': ((52, 'banana'), (53, 'apple'), (54, 'sandwich'), (55, 'orange'),
             (56, 'broccoli'), (57, 'carrot'), (58, 'hot dog'), (59, 'pizza'),
             (60, 'donut'), (61, 'cake')),
    'furniture': ((62, 'chair'), (63, 'couch'), (64, 'potted plant'),
                  (65, 'bed'), (66, 'mirror'), (67, 'dining table'),
                  (68, 'window'), (69, 'desk'), (70, 'toilet'), (71, 'door')),
    'electronic': ((72, 'tv'), (73, 'laptop'), (74, 'mouse'), (75, 'remote'),
                   (76, 'keyboard'), (77, 'cell phone')),
    'appliance': ((78, 'microwave'), (79, 'oven'), (80, 'toaster'),
                  (81, 'sink'), (82, 'refrigerator'), (83, 'blender')),
    'indoor': ((84, 'book'), (85, 'clock'), (86, 'vase'), (87, 'scissors'),
               (88, 'teddy bear'), (89, 'hair drier'), (90, 'toothbrush'),
               (91, 'hair brush')),
    # ---- stuff
    'textile': ((92, 'banner'), (93, 'blanket'), (104, 'cloth'),
                (105, 'clothes'), (109, 'curtain'), (131, 'mat'),
                (137, 'napkin'), (141, 'pillow'), (152, 'rug'),
                (167, 'textile-other'), (168, 'towel')),
    'plant': ((94, 'branch'), (97, 'bush'), (119, 'flower'), (124, 'grass'),
              (129, 'leaves'), (134, 'moss'), (142, 'plant-other'),
              (163, 'straw'), (169, 'tree')),
    'building': ((95, 'bridge'), (96, 'building-other'), (128, 'house'),
                 (151, 'roof'), (158, 'skyscraper'), (166, 'tent')),
    'furniture-stuff': ((98, 'cabinet'), (107, 'counter'), (108, 'cupboard'),
                        (110, 'desk-stuff'), (112, 'door-stuff'),
                        (123, 'furniture-other'), (130, 'light'),
                        (133, 'mirror-stuff'), (156, 'shelf'),
                        (161, 'stairs'), (165, 'table')),
    'structural': ((99, 'cage'), (113, 'fence'), (138, 'net'),
                   (146, 'railing'), (164, 'structural-other')),
    'raw-material': ((100, 'cardboard'), (132, 'metal'), (139, 'paper'),
                     (143, 'plastic')),
    'floor': ((101, 'carpet'), (114, 'floor-marble'), (115, 'floor-other'),
              (116, 'floor-stone'), (117, 'floor-tile'), (118, 'floor-wood')),
    'ceiling': ((102, 'ceiling-other'), (103, 'ceiling-tile')),
    'sky': ((106, 'clouds'), (157, 'sky-other')),
    'ground': ((111, 'dirt'), (125, 'gravel'), (126, 'ground-other'),
               (136, 'mud'), (140, 'pavement'), (144, 'platform'),
               (145, 'playingfield'), (147, 'railroad'), (149, 'road'),
               (154, 'sand'), (159, 'snow')),
    'water': ((120, 'fog'), (148, 'river'), (155, 'sea'),
              (178, 'water-other'), (179, 'waterdrops')),
    'food-stuff': ((121, 'food-other'), (122, 'fruit'), (153, 'salad'),
                   (170, 'vegetable')),
    'solid': ((127, 'hill'), (135, 'mountain'), (150, 'rock'),
              (160, 'solid-other'), (162, 'stone'), (182, 'wood')),
    'wall': ((171, 'wall-brick'), (172, 'wall-concrete'), (173, 'wall-other'),
             (174, 'wall-panel'), (175, 'wall-stone'), (176, 'wall-tile'),
             (177, 'wall-wood')),
    'window': ((180, 'window-blind'), (181, 'window-other')),
}



def lut_from_table(table: Dict[int, int], ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """``(256,)`` uint8 lookup table of ``{label id: class}``; other ids -> ``ignore_index``."""
    lut = np.full(256, ignore_index, dtype=np.uint8)
    for label_id, cls in table.items():
        lut[label_id] = cls
    return lut

def _make_palette(num: int) -> List[List[int]]:
    """``num`` well-separated RGB colours (golden-ratio hues, 3 tones)."""
    import colorsys
    palette = []
    for idx in range(num):
        hue = (idx * 0.618033988749895) % 1.0
        sat, val = ((0.85, 0.95), (0.55, 0.80), (0.95, 0.60))[idx % 3]
        palette.append(
            [int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue, sat, val)])
    return palette


COARSE_PALETTE: List[List[int]] = _make_palette(len(COARSE_CLASSES))


def fine_to_coarse_table() -> Dict[int, int]:
    """``{fine PNG id: coarse id}`` for all 182 fine classes.

    The fine PNG id is the COCO category id minus 1 (0 = person,
    181 = wood); the coarse id indexes :data:`COARSE_CLASSES`.
    """
    table = {}
    for coarse_id, super_name in enumerate(COARSE_CLASSES):
        for coco_id, _ in FINE_HIERARCHY[super_name]:
            table[coco_id - 1] = coarse_id
    return table


def fine_class_names() -> List[str]:
    """Fine class name of each fine PNG id 0..181."""
    names = [''] * (MAX_FINE_ID + 1)
    for members in FINE_HIERARCHY.values():
        for coco_id, name in members:
            names[coco_id - 1] = name
    return names


def fine_to_coarse_lut() -> np.ndarray:
    """(256,) uint8 lookup table from fine PNG values to coarse ids.

    Values 0..181 map to their coarse class, 255 (unlabeled) to 255. The
    values 182..254 are not COCO-Stuff labels; they map to 255 here and are
    flagged by :func:`invalid_fine_ids`.
    """
    return lut_from_table(fine_to_coarse_table())


_LUT = fine_to_coarse_lut()


def invalid_fine_ids(label: np.ndarray) -> np.ndarray:
    """Sorted unique values of ``label`` that are neither 0..181 nor 255."""
    values = np.unique(label)
    return values[((values < 0) | (values > MAX_FINE_ID))
                  & (values != IGNORE_INDEX)]


def map_fine_to_coarse(label: np.ndarray,
                       on_invalid: str = 'error',
                       name: Optional[str] = None) -> np.ndarray:
    """Map a COCO-Stuff fine label map to the 27 coarse classes.

    Args:
        label (np.ndarray): (H, W) integer fine ids: 0..181 (COCO id - 1)
            and 255 for unlabeled.
        on_invalid (str): What to do with other values: ``'error'`` raises
            a ``ValueError``, ``'ignore'`` maps them to 255.
        name (str, optional): File name for the error message.

    Returns:
        np.ndarray: (H, W) uint8 coarse ids 0..26, 255 ignored.
    """
    if on_invalid not in ('error', 'ignore'):
        raise ValueError(
            f"`on_invalid` must be 'error' or 'ignore', got {on_invalid!r}")
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'{name or "label"}: expected an (H, W) label map, '
                         f'got shape {label.shape}')
    if not np.issubdtype(label.dtype, np.integer):
        raise TypeError(f'{name or "label"}: label map must hold integers, '
                        f'got dtype {label.dtype}')
    bad = invalid_fine_ids(label)
    if bad.size and on_invalid == 'error':
        shown = ', '.join(str(int(v)) for v in bad[:10])
        raise ValueError(
            f'{name or "label"}: fine label ids {shown} are outside '
            f'COCO-Stuff 164k\'s 0..{MAX_FINE_ID} (and 255 = unlabeled); is '
            'this a stuffthingmaps PNG? Use on_invalid="ignore" to map such '
            'pixels to 255')
    clipped = np.where((label >= 0) & (label <= 255), label, IGNORE_INDEX)
    return _LUT[clipped.astype(np.int64)]


@DATASETS.register_module()
class CocoStuff27Dataset(BaseSegDataset):
    """COCO-Stuff-27 for unsupervised semantic segmentation.

    Labels are the 27-class PNGs written by
    ``tools/dataset_converters/cocostuff27.py`` (0..26, 255 ignored): 12
    thing classes (0-11) then 15 stuff classes (12-26), see
    :data:`COARSE_CLASSES`. The converter's output layout is::

        data/coco_stuff27/
            images/val2017/000000000139.jpg        (link to COCO's images)
            annotations/val2017/000000000139.png   (27-class labels)
            image_lists/val2017.txt                (one image name a line)

    which the defaults below read (the curated PiCIE list when the converter
    was given one)::

        dataset = dict(type='CocoStuff27Dataset', data_root='data/coco_stuff27',
                       ann_file='image_lists/val2017.txt',
                       data_prefix=dict(img_path='images/val2017',
                                        seg_map_path='annotations/val2017'))

    Args:
        img_suffix (str): Image file suffix. Defaults to '.jpg'.
        seg_map_suffix (str): Label file suffix. Defaults to '.png'.
        reduce_zero_label (bool): Must stay False: 0 is a class ('electronic')
            here. Defaults to False.
        **kwargs: Other arguments of mmseg's ``BaseSegDataset``
            (``data_root``, ``ann_file``, ``data_prefix``, ``pipeline``,
            ``indices`` ...).
    """
    METAINFO = dict(
        classes=COARSE_CLASSES,
        palette=COARSE_PALETTE,
        num_thing_classes=NUM_THING_CLASSES,
        num_stuff_classes=NUM_STUFF_CLASSES)

    def __init__(self,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError('CocoStuff27Dataset: reduce_zero_label must be '
                             'False (id 0 is the class "electronic")')
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=False,
            **kwargs)


def coarse_class_of(names: Sequence[str]) -> List[int]:
    """Coarse id of each fine class name (raises ``KeyError`` if unknown)."""
    lookup = {}
    for coarse_id, super_name in enumerate(COARSE_CLASSES):
        for _, name in FINE_HIERARCHY[super_name]:
            lookup[name] = coarse_id
    return [lookup[name] for name in names]
