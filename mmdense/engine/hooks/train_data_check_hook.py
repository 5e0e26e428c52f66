# Copyright (c) mmdense contributors. All rights reserved.
"""Stop before the first iteration when the training dataloader cannot
yield a single batch.

With ``drop_last=True`` (every shipped pre-training config) a dataset
smaller than one batch gives an empty dataloader: mmengine's
``IterBasedTrainLoop`` then dies with a bare ``StopIteration`` on its first
batch, and ``EpochBasedTrainLoop`` runs epochs of nothing. Only the built
dataloader knows its size (a config check cannot), so this hook looks at it
in ``before_train``, once the dataset is built and before any batch is drawn.
"""
from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmdense.registry import HOOKS


def describe_dataset(dataset) -> str:
    """Names a dataset in error messages: its own ``describe()`` when it has
    one (``UnlabeledImageDataset`` names its folder or ann file), else its
    class with its ann file and data root."""
    describe = getattr(dataset, 'describe', None)
    if callable(describe):
        try:
            return describe()
        except Exception:
            pass
    parts = [f'{attr}={getattr(dataset, attr)!r}' for attr in ('ann_file', 'data_root')
             if getattr(dataset, attr, None)]
    inner = getattr(dataset, 'datasets', None)
    if not parts and isinstance(inner, (list, tuple)):
        parts = [describe_dataset(d) for d in inner]
    return f'{type(dataset).__name__}({", ".join(parts)})'


class EmptyTrainDataloaderError(RuntimeError):
    """The training dataloader yields no batch."""


@HOOKS.register_module()
class TrainDataCheckHook(Hook):
    """Raise :class:`EmptyTrainDataloaderError`, naming the dataset, its size
    and the batch size, when the training dataloader holds no batch (e.g.
    3 images, batch 4, ``drop_last=True``) instead of a bare
    ``StopIteration`` at the first iteration."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        try:
            num_batches = len(loader)
            size = len(loader.dataset)
        except TypeError:  # an iterable dataset or sampler: size unknown
            return
        if num_batches > 0:
            return
        batch_size = getattr(loader, 'batch_size', None)
        drop_last = getattr(loader, 'drop_last', None)
        batch_sampler = getattr(loader, 'batch_sampler', None)
        if batch_size is None and batch_sampler is not None:
            batch_size = getattr(batch_sampler, 'batch_size', None)
            drop_last = getattr(batch_sampler, 'drop_last', drop_last)
        name = describe_dataset(loader.dataset)
        world = get_world_size()
        try:
            per_rank = len(loader.sampler)
        except TypeError:
            per_rank = size
        where = (f' ({per_rank} per process with {world} processes)'
                 if world > 1 else '')
        if size == 0:
            raise EmptyTrainDataloaderError(f'the training dataset {name} is empty')
        raise EmptyTrainDataloaderError(
            f'the training dataset {name} has {size} images{where}, fewer than one batch of '
            f'{batch_size} with drop_last={drop_last}: no training iteration can run. Add '
            f'images, lower train_dataloader.batch_size, or set '
            f'train_dataloader.drop_last=False.')
