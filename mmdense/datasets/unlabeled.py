# Copyright (c) mmdense contributors. All rights reserved.
"""Label-free image datasets for self-supervised pretraining."""
import glob
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.fileio import exists, get_text, load

from mmdense.registry import DATASETS


@DATASETS.register_module()
class UnlabeledImageDataset(BaseDataset):
    """Image paths without labels, for pretraining pipelines that start with
    ``dict(type='LoadImageFromFile')``.

    The images come from one of three sources, picked by ``ann_file``:

    - ``*.json``: a COCO-format file; every ``images[*].file_name`` is taken
      (annotations, ``info`` and ``licenses`` are ignored and may be absent).
    - ``*.txt``: a list file, one path per line; blank lines and lines
      starting with ``#`` are skipped, and only the first whitespace-separated
      field is used, so ImageNet-style ``path label`` files work.
    - no ``ann_file``: the files matching ``img_glob`` (e.g. ``'*.jpg'``,
      ImageNet's ``'*/*.JPEG'`` or a recursive ``'**/*.png'``), sorted.

    Paths are relative to ``data_prefix['img_path']`` (itself under
    ``data_root``). Each data info is ``dict(img_path=..., sample_idx=i)``;
    ``img_path`` is absolute for local files. Images are not checked at
    init (a missing file is the loader's business), but a missing annotation
    file or image folder, or a source yielding no image, raises an error.

    Several sources, e.g. COCO+ (train2017 + unlabeled2017), are combined with
    mmengine's ``ConcatDataset``:

    .. code-block:: python

        dataset = dict(
            type='ConcatDataset',
            datasets=[
                dict(type='UnlabeledImageDataset', data_root='data/coco',
                     ann_file='annotations/instances_train2017.json',
                     data_prefix=dict(img_path='train2017/'),
                     pipeline=pipeline),
                dict(type='UnlabeledImageDataset', data_root='data/coco',
                     ann_file='annotations/image_info_unlabeled2017.json',
                     data_prefix=dict(img_path='unlabeled2017/'),
                     pipeline=pipeline),
            ])

    Args:
        ann_file (str): A ``.json`` (COCO) or ``.txt`` (list) file, relative
            to ``data_root`` unless absolute; empty to glob a folder.
            Defaults to ''.
        img_glob (str | Sequence[str]): Pattern(s) of the image files,
            relative to the image folder, used when ``ann_file`` is empty
            (several patterns: their files in that order, e.g. COCO+ =
            ``['train2017/*.jpg', 'unlabeled2017/*.jpg']``). It must match
            files only (directories are not filtered out); ``**`` is
            recursive. Defaults to ``'*.jpg'``.
        data_root (str): Root of ``ann_file`` and ``data_prefix``.
            Defaults to ''.
        data_prefix (dict): ``img_path``: the image folder, relative to
            ``data_root`` unless absolute; ``data_root`` itself when absent.
            Defaults to ``dict(img_path='')``.
        pipeline (Sequence): Transforms applied to each sample.
            Defaults to ().
        test_mode (bool): Whether the dataset is used for testing.
            Defaults to False.
        lazy_init (bool): Whether to defer listing the images.
            Defaults to False.
        backend_args (dict, optional): File backend arguments to read
            ``ann_file``; globbing needs a local folder. Defaults to None.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``indices``, ``serialize_data``, ``metainfo``...).
    """

    def __init__(self,
                 ann_file: str = '',
                 img_glob: Union[str, Sequence[str]] = '*.jpg',
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        if not isinstance(ann_file, str):
            raise ValueError(f'ann_file must be a str, but got {ann_file!r}; '
                             'combine several sources with ConcatDataset')
        globs = [img_glob] if isinstance(img_glob, str) else list(img_glob or ())
        if not globs or not all(isinstance(g, str) and g for g in globs):
            raise ValueError(f'img_glob must be a non-empty str or a list of them, '
                             f'but got {img_glob!r}')
        self.img_glob = img_glob
        self._globs = globs
        self.backend_args = backend_args
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=dict(img_path='') if data_prefix is None else
            data_prefix,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """List the images of the source; see the class docstring."""
        img_dir = self.data_prefix.get('img_path', self.data_root) or ''
        if not self.ann_file:
            source = f'img_glob={self.img_glob!r} in image folder {img_dir!r}'
            names = self._glob_images(img_dir)
        elif self.ann_file.endswith('.json'):
            source = f'COCO json ann_file {self.ann_file!r}'
            names = self._read_coco(self.ann_file)
        elif self.ann_file.endswith('.txt'):
            source = f'list file ann_file {self.ann_file!r}'
            names = self._read_list(self.ann_file)
        else:
            raise ValueError(
                f'ann_file must end with .json (COCO) or .txt (list), or be '
                f'empty to glob a folder, but got {self.ann_file!r}')
        if not names:
            raise ValueError(f'no image found by {source}')
        img_dir = self._normalize_dir(img_dir)
        return [
            dict(img_path=self._join(img_dir, name), sample_idx=i)
            for i, name in enumerate(names)
        ]

    def _check_ann_file(self, path: str, kind: str) -> None:
        """Raise FileNotFoundError naming ``path`` if it does not exist."""
        if not exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(f'{kind} ann_file {path!r} not found')

    def _read_coco(self, path: str) -> List[str]:
        """``file_name`` of every image of a COCO-format json file."""
        self._check_ann_file(path, 'COCO json')
        coco = load(path, file_format='json', backend_args=self.backend_args)
        if not isinstance(coco, dict) or not isinstance(
                coco.get('images'), list):
            raise ValueError(
                f'COCO json ann_file {path!r} has no "images" list')
        try:
            return [img['file_name'] for img in coco['images']]
        except (KeyError, TypeError) as err:
            raise ValueError(f'COCO json ann_file {path!r}: an entry of '
                             f'"images" has no "file_name"') from err

    def _read_list(self, path: str) -> List[str]:
        """First field of every non-blank, non-comment line of a list file."""
        self._check_ann_file(path, 'list file')
        text = get_text(path, backend_args=self.backend_args)
        names = []
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith('#'):
                names.append(line.split()[0])
        return names

    def _glob_images(self, img_dir: str) -> List[str]:
        """Sorted paths matching ``img_glob``, relative to ``img_dir``."""
        folder = img_dir or '.'
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'image folder {folder!r} (data_root + data_prefix '
                f"['img_path'], globbed with img_glob={self.img_glob!r}) "
                'not found')
        prefix = osp.join(folder, '')
        names = []
        for pattern in self._globs:
            paths = glob.glob(glob.escape(prefix) + pattern, recursive=True)
            names.extend(sorted(p[len(prefix):] for p in paths))
        return names

    @staticmethod
    def _normalize_dir(img_dir: str) -> str:
        """Absolute local folder; URIs (``s3://...``) are kept as they are."""
        return img_dir if '://' in img_dir else osp.abspath(img_dir or '.')

    @staticmethod
    def _join(img_dir: str, name: str) -> str:
        """Join a folder (local or URI) and a relative image path."""
        if '://' in img_dir:
            return img_dir.rstrip('/') + '/' + name
        return osp.join(img_dir, name)
