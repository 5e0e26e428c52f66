# Copyright (c) mmdense contributors. All rights reserved.
"""Label-free image datasets for self-supervised pretraining."""
import fnmatch
import glob
import os
import os.path as osp
import stat
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

from mmengine.dataset import BaseDataset
from mmengine.fileio import exists, get_text, load

from mmdense.registry import DATASETS
from .transforms.bad_samples import RefetchGuardMixin, display_path


def _is_hidden(name: str) -> bool:
    return name.startswith('.')


def _has_magic(part: str) -> bool:
    return glob.has_magic(part)


def glob_files(folder: str, pattern: str) -> List[str]:
    """Paths (relative to ``folder``) of the non-directory entries matching
    ``pattern``, sorted; the semantics of ``glob.glob(recursive=True)`` (a
    ``**`` component matches zero or more folders; names starting with ``.``
    are only matched by a pattern starting with ``.``, never by ``*`` or
    ``**``), except that a ``**`` never descends into a folder symlink that
    points to the folder itself or to one of its ancestors (a symlink loop,
    which ``glob`` follows until the path is too long, listing every file
    dozens of times). Other folder symlinks are followed, as by ``glob``.

    Patterns without a ``**`` component go to ``glob.glob`` as they are
    (folders among their matches are dropped by :func:`unique_real_paths`).
    """
    parts = [p for p in pattern.split('/') if p]
    if '**' not in parts:
        prefix = osp.join(folder, '')
        paths = glob.glob(glob.escape(prefix) + pattern, recursive=True)
        return sorted(p[len(prefix):] for p in paths)
    if parts[-1] == '**':  # every file below: glob would also list folders
        parts.append('*')
    found: List[str] = []

    def visit(path: str, rel: str, parts: List[str], ancestors: Tuple[str, ...]) -> None:
        head, rest = parts[0], parts[1:]
        if head == '**':
            visit(path, rel, rest, ancestors)  # zero folders
            for entry in _scandir(path):
                if _is_hidden(entry.name) or not _is_dir(entry):
                    continue
                real = _real(entry, ancestors[-1])
                if real in ancestors:  # a symlink loop: do not descend
                    continue
                visit(entry.path, rel + entry.name + '/', parts, ancestors + (real, ))
            return
        if _has_magic(head):
            names = [e for e in _scandir(path) if fnmatch.fnmatchcase(e.name, head)
                     and (not _is_hidden(e.name) or _is_hidden(head))]
        else:
            target = osp.join(path, head)
            names = [_Entry(head, target)] if osp.lexists(target) else []
        for entry in names:
            if not rest:
                if not _is_dir(entry):
                    found.append(rel + entry.name)
            elif _is_dir(entry):
                visit(entry.path, rel + entry.name + '/', rest,
                      ancestors + (_real(entry, ancestors[-1]), ))

    visit(folder, '', parts, (osp.realpath(folder), ))
    return sorted(found)


class _Entry:
    """The few ``os.DirEntry`` methods :func:`glob_files` uses, for a path."""

    def __init__(self, name: str, path: str) -> None:
        self.name, self.path = name, path

    def is_dir(self) -> bool:
        return osp.isdir(self.path)

    def is_symlink(self) -> bool:
        return osp.islink(self.path)


def _scandir(path: str) -> List:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:  # vanished, no permission: as glob, nothing there
        return []


def _real(entry, parent_real: str) -> str:
    """Real path of a folder entry whose parent's real path is known."""
    if isinstance(entry, _Entry) or entry.is_symlink():
        return osp.realpath(entry.path)
    return osp.join(parent_real, entry.name)


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def unique_real_paths(folder: str, names: List[str]) -> List[str]:
    """``names`` (relative to ``folder``) less the folders among them and
    those reaching a file already listed (through a folder or a file
    symlink); the first one is kept. One ``lstat`` per name (and a
    ``realpath`` per folder, and per symlink)."""
    real_dirs: Dict[str, str] = {}
    seen: Set[str] = set()
    out = []
    for name in names:
        path = osp.join(folder, name)
        try:
            mode = os.lstat(path).st_mode
        except OSError:  # vanished meanwhile: the loader will say so
            mode = 0
        if stat.S_ISDIR(mode) or (stat.S_ISLNK(mode) and osp.isdir(path)):
            continue
        if stat.S_ISLNK(mode):
            real = osp.realpath(path)
        else:
            head, tail = osp.split(path)
            real_dir = real_dirs.get(head)
            if real_dir is None:
                real_dir = real_dirs[head] = osp.realpath(head)
            real = osp.join(real_dir, tail)
        if real not in seen:
            seen.add(real)
            out.append(name)
    return out


@DATASETS.register_module()
class UnlabeledImageDataset(RefetchGuardMixin, BaseDataset):
    """Image paths without labels, for pretraining pipelines that start with
    ``dict(type='LoadImageFromFile')``.

    The images come from one of three sources, picked by ``ann_file``:

    - ``*.json``: a COCO-format file; every ``images[*].file_name`` is taken
      (annotations, ``info`` and ``licenses`` are ignored and may be absent).
    - ``*.txt``: a list file, one path per line; blank lines and lines
      starting with ``#`` are skipped, and only the first whitespace-separated
      field is used, so ImageNet-style ``path label`` files work.
    - no ``ann_file``: the files matching ``img_glob`` (e.g. ``'*.jpg'``,
      ImageNet's ``'*/*.JPEG'`` or a recursive ``'**/*.png'``), sorted. A
      ``**`` does not follow a folder symlink back to the folder or one of
      its ancestors (a loop), and each file is listed once even when
      symlinks reach it by several paths (:func:`glob_files`,
      :func:`unique_real_paths`).

    Paths are relative to ``data_prefix['img_path']`` (itself under
    ``data_root``). Each data info is ``dict(img_path=..., sample_idx=i)``;
    ``img_path`` is absolute for local files. Images are not checked at
    init (a missing file is the loader's business), but a missing annotation
    file or image folder, a COCO entry without a ``file_name`` string, or a
    source yielding no image, raises an error. In training, a dataset whose
    samples are all skipped by the pipeline (unreadable files) stops with
    :class:`~mmdense.datasets.transforms.bad_samples.AllSamplesInvalidError`
    naming it, instead of mmengine's ``Cannot find valid image after 1000!``.

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
            files (directories are left out); ``**`` is recursive; a file
            matched twice (several patterns, symlinks) is listed once, where
            it is first met. Defaults to ``'*.jpg'``.
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

    def describe(self) -> str:
        """The dataset's source, for error messages."""
        if not self.ann_file:
            img_dir = self.data_prefix.get('img_path', self.data_root) or '.'
            if '://' not in img_dir:
                img_dir = osp.normpath(img_dir)
            return (f'{type(self).__name__} (image folder {display_path(img_dir)!r}, '
                    f'img_glob={self.img_glob!r})')
        return f'{type(self).__name__} (ann_file {display_path(self.ann_file)!r})'

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
        names = []
        for i, img in enumerate(coco['images']):
            name = img.get('file_name') if isinstance(img, dict) else None
            if not isinstance(name, str) or not name:
                ident = f', id {img["id"]!r}' if isinstance(img, dict) and 'id' in img else ''
                problem = ('is not an object' if not isinstance(img, dict) else
                           'has no "file_name"' if 'file_name' not in img else
                           f'has "file_name": {name!r} (expected a non-empty string)')
                raise ValueError(f'COCO json ann_file {display_path(path)!r}: entry {i} of '
                                 f'"images"{ident} {problem}')
            names.append(name)
        return names

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
        names = []
        for pattern in self._globs:
            names.extend(glob_files(folder, pattern))
        return unique_real_paths(folder, names)

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
