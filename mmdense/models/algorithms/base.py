# Copyright (c) mmdense contributors. All rights reserved.
"""The non-finite-loss policy shared by mmdense's algorithms.

A NaN/Inf loss that reaches ``optim_wrapper.update_params`` turns the weights
into NaN, and every later checkpoint with them. :class:`NonFiniteLossMixin`
checks every loss term *before* the update:

- ``nonfinite_loss='raise'`` (default): stop with :class:`NonFiniteLossError`
  naming the iteration and the non-finite terms (e.g. ``loss_contrast=nan``);
  nothing is updated, so the last checkpoint is the last good state.
- ``nonfinite_loss='skip'``: drop the step (gradients cleared, no optimizer
  step; the state the forward pass already moved is restored: what
  :func:`rollback_tensors` collects, i.e. BatchNorm statistics and every
  tensor a module declares with ``rollback_buffers`` / ``rollback_tensors()``
  such as a loss centre, a queue and its pointer, the EMA teacher and its
  step counter), log a warning
  and log ``nonfinite_skipped`` (1 on a skipped step, else 0); after
  ``max_nonfinite_skips`` consecutive skips, stop as with ``'raise'``.

With several processes the verdict is all-reduced, so all ranks raise or skip
together. mmengine's ``MMDistributedDataParallel.train_step`` bypasses the
model's ``train_step`` but calls its ``parse_losses``, where the check lives:
``'raise'`` works with it; ``'skip'`` needs
``model_wrapper_cfg=dict(type='GuardedDistributedDataParallel')``.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from mmengine.logging import MessageHub, print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmpretrain.models.selfsup import BaseSelfSupervisor

from mmdense.models.utils import MomentumTeacher, all_reduce_max
from mmdense.registry import MODEL_WRAPPERS

NONFINITE_POLICIES = ('raise', 'skip')


class NonFiniteLossError(FloatingPointError):
    """A loss term is NaN or Inf; raised before any parameter is updated."""


# BatchNorm layers move these in every training forward pass.
NORM_ROLLBACK_BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


def rollback_tensors(model: nn.Module) -> List[torch.Tensor]:
    """The tensors a skipped training step must put back, in a fixed order.

    Declared, not inferred: a module lists its step-to-step state either as
    buffer names in a class attribute ``rollback_buffers`` (e.g. a loss's
    ``('center',)``, a queue's ``('queue', 'ptr')``) or returns tensors from a
    ``rollback_tensors()`` method (the EMA teacher: its step counter and
    averaged parameters). BatchNorm running statistics are added for every
    ``_BatchNorm`` layer. Each tensor is returned once.

    Args:
        model (nn.Module): the algorithm.

    Returns:
        list[Tensor]: the live tensors (snapshot them with ``clone()``).
    """
    found: List[torch.Tensor] = []
    seen = set()

    def add(tensor: Optional[torch.Tensor]) -> None:
        if isinstance(tensor, torch.Tensor) and id(tensor) not in seen:
            seen.add(id(tensor))
            found.append(tensor)

    for module in model.modules():
        if callable(getattr(module, 'rollback_tensors', None)) and module is not model:
            for tensor in module.rollback_tensors():
                add(tensor)
        for name in getattr(module, 'rollback_buffers', ()):
            add(getattr(module, name))
        if isinstance(module, _BatchNorm):
            for name in NORM_ROLLBACK_BUFFERS:
                add(getattr(module, name, None))
    return found


def _current_iteration() -> Optional[int]:
    """1-based training iteration from the runner's MessageHub, if any."""
    try:
        it = MessageHub.get_current_instance().get_info('iter')
    except Exception:
        return None
    return None if it is None else int(it) + 1


class NonFiniteLossMixin:
    """Mix into an mmengine ``BaseModel`` (before it in the bases) to check
    the losses before every update; see the module docstring.

    Args:
        nonfinite_loss (str): ``'raise'`` (default) or ``'skip'``.
        max_nonfinite_skips (int): consecutive skips tolerated under
            ``'skip'`` before raising. Defaults to 20.
    """

    def __init__(self, *args, nonfinite_loss: str = 'raise', max_nonfinite_skips: int = 20,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if nonfinite_loss not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite_loss must be one of {NONFINITE_POLICIES}, "
                             f"got {nonfinite_loss!r}")
        if not isinstance(max_nonfinite_skips, int) or max_nonfinite_skips < 1:
            raise ValueError(f'max_nonfinite_skips must be a positive int, '
                             f'got {max_nonfinite_skips!r}')
        self.nonfinite_loss = nonfinite_loss
        self.max_nonfinite_skips = max_nonfinite_skips
        self.nonfinite_skips = 0  # in total
        self._consecutive_skips = 0
        self._guarded = False  # inside _guarded_train_step
        self._nonfinite: List[str] = []

    # ------------------------------------------------------------ checks
    def nonfinite_terms(self, log_vars: Dict[str, torch.Tensor]) -> List[str]:
        """``name=value`` of the loss terms (keys with 'loss') that are not
        finite on any rank."""
        names = [k for k, v in log_vars.items() if 'loss' in k and isinstance(v, torch.Tensor)]
        if not names:
            return []
        values = torch.stack([log_vars[k].detach().float().reshape(()) for k in names])
        bad = all_reduce_max((~torch.isfinite(values)).to(torch.float32)).bool().tolist()
        if not any(bad):  # the usual case: one host sync per step
            return []
        shown = values.tolist()
        terms = [f'{n}={v}' if v != v or abs(v) == float('inf') else f'{n} (on another rank)'
                 for n, v, b in zip(names, shown, bad) if b]
        # the total 'loss' is only named when no term explains it (overflow)
        return [t for t in terms if not t.startswith('loss=')] or terms

    def _message(self, terms: List[str]) -> str:
        it = _current_iteration()
        where = f'iteration {it}' if it is not None else 'this step'
        return f'Non-finite loss at {where}: {", ".join(terms)}'

    def parse_losses(
        self, losses: Dict[str, torch.Tensor]
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """mmengine's ``parse_losses`` plus the finiteness check (raises under
        ``'raise'``; under ``'skip'`` the caller drops the step)."""
        loss, log_vars = super().parse_losses(losses)
        terms = self.nonfinite_terms(log_vars) if self.training else []
        self._nonfinite = terms
        if terms and (self.nonfinite_loss == 'raise' or not self._guarded):
            hint = ('' if self.nonfinite_loss == 'raise' else
                    " (nonfinite_loss='skip' under distributed training needs "
                    "model_wrapper_cfg=dict(type='GuardedDistributedDataParallel'))")
            raise NonFiniteLossError(
                self._message(terms) + '. Training stopped before the parameters were updated; '
                'the last checkpoint holds the last finite state' + hint + '. Lower the learning '
                "rate, check the data, or set model.nonfinite_loss='skip'.")
        return loss, log_vars

    # ------------------------------------------------------------ train step
    def rollback_tensors(self) -> List[torch.Tensor]:
        """The state restored on a skipped step (see :func:`rollback_tensors`)."""
        return rollback_tensors(self)

    def _guarded_train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapper,
                            wrapper: Optional[torch.nn.Module] = None) -> Dict[str, torch.Tensor]:
        """``BaseModel.train_step`` with the check before ``update_params``.

        ``wrapper``: the DDP wrapper whose forward must be used, if any.
        """
        runner_model = self if wrapper is None else wrapper
        snapshot = None
        if self.nonfinite_loss == 'skip':
            snapshot = [t.detach().clone() for t in self.rollback_tensors()]
        self._guarded = True
        try:
            with optim_wrapper.optim_context(runner_model):
                data = self.data_preprocessor(data, True)
                losses = runner_model._run_forward(data, mode='loss')
            parsed_loss, log_vars = self.parse_losses(losses)
        finally:
            self._guarded = False
        if not self._nonfinite:
            optim_wrapper.update_params(parsed_loss)
            self._consecutive_skips = 0
            if snapshot is not None:  # logged every step, so its window mean is a rate
                log_vars['nonfinite_skipped'] = parsed_loss.detach().new_tensor(0.)
            return log_vars
        # skip: no backward, no step; undo what the forward moved
        optim_wrapper.zero_grad()
        with torch.no_grad():
            for tensor, old in zip(self.rollback_tensors(), snapshot):
                tensor.copy_(old)
        self._consecutive_skips += 1
        self.nonfinite_skips += 1
        message = self._message(self._nonfinite)
        if self._consecutive_skips >= self.max_nonfinite_skips:
            raise NonFiniteLossError(
                f'{message}; {self._consecutive_skips} consecutive steps skipped '
                f'(max_nonfinite_skips={self.max_nonfinite_skips}). Training stopped.')
        print_log(f'{message}; step skipped ({self._consecutive_skips} in a row, '
                  f'{self.nonfinite_skips} in total).', logger='current', level=30)
        log_vars['nonfinite_skipped'] = parsed_loss.detach().new_tensor(1.)
        return log_vars

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        return self._guarded_train_step(data, optim_wrapper)


@MODEL_WRAPPERS.register_module()
class GuardedDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` whose ``train_step`` applies the model's
    non-finite-loss policy (needed for ``nonfinite_loss='skip'``; all ranks
    skip the same steps)."""

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        if isinstance(self.module, NonFiniteLossMixin):
            return self.module._guarded_train_step(data, optim_wrapper, wrapper=self)
        return super().train_step(data, optim_wrapper)


class BaseDenseSelfSupervisor(NonFiniteLossMixin, BaseSelfSupervisor):
    """What every dense self-supervised method repeats, written once.

    On top of mmpretrain's ``BaseSelfSupervisor`` (backbone / neck / head from
    config, ``loss`` / ``predict`` / ``extract_feat`` dispatch) and the
    non-finite-loss guard (:class:`NonFiniteLossMixin`):

    - **EMA teacher.** A subclass names the student parts the teacher follows
      in ``teacher_follows`` and calls :meth:`build_teacher` once they exist;
      :meth:`init_weights` makes the teacher an exact copy of the student and
      :meth:`update_teacher` moves it (cosine momentum, papers' convention).
    - **Inference interface** used by the evaluation, the concept visualiser
      and the backbone exporter (they never read a method's attribute names):

      ========================  ==================================================
      ``inference_network()``   the network used for inference (``predict_with``)
      ``extract_dense(x, stage)``  ``(B, D, h, w)`` features at a named stage
      ``dense_stages``          the stage names ``extract_dense`` accepts
      ``num_clusters``          K of the method's prototypes, None without
      ``dense_logits(x, size)`` ``(B, K, h, w)`` prototype logits
      ``dense_logit_scale``     logits = similarity x this (1 / temperature)
      ``dense_saliency(x, size)``  ``(B, h, w)`` saliency in [0, 1], None without
      ``dense_predictions(x, size)``  both of the above, for ``predict`` (one pass)
      ``backbone_prefix(net)``  state-dict prefix of the backbone to export
      ========================  ==================================================

    A method without prototypes leaves ``num_clusters`` None and
    ``dense_logits`` unimplemented; k-means evaluation, the exporter and the
    feature-based tools still work.

    Args:
        backbone (dict): encoder config.
        neck (dict, optional): neck config.
        head (dict, optional): head config.
        predict_with (str): 'teacher' (default when the method has one) or
            'student': the network :meth:`inference_network` returns.
        nonfinite_loss (str): 'raise' or 'skip' (see :class:`NonFiniteLossMixin`).
        max_nonfinite_skips (int): consecutive skips tolerated under 'skip'.
        data_preprocessor (dict, optional): data pre-processor config.
        init_cfg (dict, optional): initialisation config.
    """

    #: student attributes the EMA teacher copies and follows (in this order).
    teacher_follows: Tuple[str, ...] = ('backbone', 'neck')
    #: stage names accepted by :meth:`extract_dense`; 'auto' is the first
    #: dense one of the others.
    dense_stages: Tuple[str, ...] = ('auto', 'neck', 'backbone')
    #: where the teacher lives in the state dict (see :meth:`backbone_prefix`).
    TEACHER_PREFIX = 'teacher.module.'
    #: smallest per-process training batch (BatchNorm, contrast between
    #: images); read by the config validation before anything is built.
    min_train_batch_size: int = 2

    @classmethod
    def check_config(cls, model_cfg: dict) -> List[Tuple[str, str]]:
        """The method's own config rules, checked before anything is built.

        Args:
            model_cfg (dict): the ``model`` config.

        Returns:
            list[tuple[str, str]]: ``(key below model., message)`` problems.
        """
        return []

    @classmethod
    def view_map_kinds(cls, model_cfg: dict) -> Dict[str, str]:
        """The per-view maps ``loss`` reads from ``view_seg_maps``, by kind.

        Args:
            model_cfg (dict): the ``model`` config.

        Returns:
            dict: ``{key: kind}``, kind ``'objects'`` (uint8, 0 background,
            ids > 0 objects: saliency masks) or ``'regions'`` (integer region
            ids: superpixels). Tools that make synthetic batches (the
            benchmark) read it; none by default.
        """
        return {}

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 predict_with: str = 'teacher',
                 nonfinite_loss: str = 'raise',
                 max_nonfinite_skips: int = 20,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         nonfinite_loss=nonfinite_loss, max_nonfinite_skips=max_nonfinite_skips)
        if predict_with not in ('teacher', 'student'):
            raise ValueError(f"{type(self).__name__}: predict_with must be 'teacher' or "
                             f"'student', got {predict_with!r}")
        self.predict_with = predict_with
        self.teacher: Optional[MomentumTeacher] = None

    # ------------------------------------------------------------ teacher
    def student_network(self) -> nn.ModuleDict:
        """The student parts the teacher follows (a view, not a new module)."""
        missing = [name for name in self.teacher_follows if getattr(self, name, None) is None]
        if missing:
            raise AttributeError(f'{type(self).__name__}.teacher_follows names {missing}, '
                                 'which the model does not have')
        return nn.ModuleDict({name: getattr(self, name) for name in self.teacher_follows})

    def build_teacher(self, momentum: float, end_momentum: float = 1.0) -> None:
        """Create the EMA teacher over :meth:`student_network`.

        Args:
            momentum (float): teacher weight at the start (papers'
                convention, e.g. 0.99 SlotCon, 0.996 DINO/CrOC, 0.999 MoCo).
            end_momentum (float): teacher weight at the end (cosine schedule).
        """
        self.teacher = MomentumTeacher(self.student_network(), momentum, end_momentum)

    def init_weights(self) -> None:
        """Initialise the student, then make the teacher an exact copy of it."""
        super().init_weights()
        if self.teacher is not None:
            self.teacher.copy_from(self.student_network())

    @torch.no_grad()
    def update_teacher(self) -> None:
        """One EMA step of the teacher towards the student."""
        self.teacher.update_parameters(self.student_network())

    # ------------------------------------------------------------ inference interface
    def inference_network(self) -> nn.Module:
        """The network inference uses: the teacher's copy of the student parts
        (``predict_with='teacher'`` and a teacher exists) or the student's."""
        if self.predict_with == 'teacher' and self.teacher is not None:
            return self.teacher.module
        return self.student_network() if self.teacher is not None else self

    @torch.no_grad()
    def extract_dense(self, inputs: torch.Tensor, stage: str = 'auto') -> torch.Tensor:
        """Dense features of a batch of (pre-processed) images.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised images.
            stage (str): one of :attr:`dense_stages`: 'backbone' (the
                backbone's last output), 'neck' (the neck's), 'auto' (the
                neck's when it is a dense map, else the backbone's).

        Returns:
            Tensor: ``(B, D, h, w)`` features, not normalised.
        """
        if stage not in self.dense_stages:
            raise ValueError(f'{type(self).__name__}: stage must be one of '
                             f'{self.dense_stages}, got {stage!r}')
        net = self.inference_network()
        feats = net.backbone(inputs)
        neck = getattr(net, 'neck', None)
        if stage != 'backbone' and neck is not None:
            out = _last(neck(feats))
            if _is_dense(out):
                return out
            if stage == 'neck':
                raise ValueError(f'the neck of {type(self).__name__} does not return a dense '
                                 f'(B, D, h, w) map (got {_shape(out)}); use stage=\'backbone\'')
        elif stage == 'neck':
            raise ValueError(f"{type(self).__name__} has no neck; use stage='backbone'")
        out = _last(feats)
        if not _is_dense(out):
            raise ValueError(f'the backbone of {type(self).__name__} does not return a dense '
                             f'(B, D, h, w) map (got {_shape(out)})')
        return out

    @property
    def num_clusters(self) -> Optional[int]:
        """K of the method's prototypes (None for a method without)."""
        return None

    @property
    def dense_logit_scale(self) -> float:
        """:meth:`dense_logits` = similarity x this factor (1 / temperature)."""
        return 1.0

    def dense_logits(self, inputs: torch.Tensor,
                     size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """``(B, K, h, w)`` prototype logits, bilinearly resized to ``size``
        (default: the input size). Methods with prototypes implement it."""
        raise NotImplementedError(f'{type(self).__name__} has no prototypes (num_clusters is '
                                  'None): evaluate it with k-means on extract_dense features')

    def dense_saliency(self, inputs: torch.Tensor,
                       size: Optional[Tuple[int, int]] = None) -> Optional[torch.Tensor]:
        """``(B, h, w)`` foreground probabilities of a method's saliency head
        (MaskContrast), bilinearly resized to ``size`` (default: the input
        size); None for a method without one (the default). The object
        k-means evaluation takes it as its background source."""
        return None

    @classmethod
    def backbone_prefix(cls, network: str = 'teacher') -> str:
        """State-dict prefix of the backbone that transfers downstream.

        Args:
            network (str): 'teacher' (the EMA teacher, kept by the papers) or
                'student'. Methods without a teacher export the student for
                both.
        """
        if network not in ('teacher', 'student'):
            raise ValueError(f"network must be 'teacher' or 'student', got {network!r}")
        if network == 'teacher' and cls.has_teacher():
            return cls.TEACHER_PREFIX + 'backbone.'
        return 'backbone.'

    @classmethod
    def has_teacher(cls) -> bool:
        """Whether the method keeps an EMA teacher (a class-level fact)."""
        return bool(cls.teacher_follows)

    def forward(self, inputs, data_samples: Optional[list] = None, mode: str = 'tensor'):
        """``mode``: 'tensor' (backbone features), 'loss' or 'predict'."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                return_logits: bool = False) -> list:
        """Prototype assignment per pixel, in mmseg's ``SegDataSample`` layout.

        Each sample gets ``pred_sem_seg`` (``1 x H x W`` prototype ids, at the
        size of its ``gt_sem_seg`` when present, else of the input) and, with
        ``return_logits``, ``seg_logits`` (``K x H x W``).

        A method without prototypes (``num_clusters`` None) gets, instead,
        ``dense_feats`` (``D x h x w``, :meth:`extract_dense` ``'auto'``) and,
        when :meth:`dense_saliency` gives one, ``pred_saliency``
        (``1 x H x W`` probabilities): what ``ObjectKMeansMetric`` clusters.
        """
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(inputs.shape[0])]
        sizes = {tuple(ds.gt_sem_seg.shape) if 'gt_sem_seg' in ds else tuple(inputs.shape[-2:])
                 for ds in data_samples}
        if len(sizes) != 1:
            raise ValueError(f'{type(self).__name__}.predict: samples of one batch need one '
                             f'label size, got {sizes}')
        if self.num_clusters is None:
            return self._predict_dense(inputs, data_samples, sizes.pop())
        logits = self.dense_logits(inputs, size=sizes.pop())
        preds = logits.argmax(dim=1, keepdim=True)
        for i, ds in enumerate(data_samples):
            ds.pred_sem_seg = PixelData(data=preds[i])
            if return_logits:
                ds.seg_logits = PixelData(data=logits[i])
        return data_samples


    def dense_predictions(self, inputs: torch.Tensor, size: Tuple[int, int]
                          ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """What ``predict`` gives a method without prototypes:
        ``extract_dense(inputs, 'auto')`` and ``dense_saliency(inputs, size)``.

        A method whose two share a forward pass (MaskContrast: one decoder,
        two heads) overrides this to run the network once.
        """
        return self.extract_dense(inputs, 'auto'), self.dense_saliency(inputs, size)

    def _predict_dense(self, inputs: torch.Tensor, data_samples: list,
                       size: Tuple[int, int]) -> list:
        """``predict`` of a method without prototypes (see :meth:`predict`)."""
        feats, saliency = self.dense_predictions(inputs, size)
        feats = feats.float()
        for i, ds in enumerate(data_samples):
            ds.set_field(feats[i], 'dense_feats', field_type='data')
            if saliency is not None:
                ds.pred_saliency = PixelData(data=saliency[i][None])
        return data_samples


def _last(outputs):
    """Last element of a tuple/list of outputs, or the output itself."""
    return outputs[-1] if isinstance(outputs, (tuple, list)) else outputs


def _is_dense(out) -> bool:
    return isinstance(out, torch.Tensor) and out.dim() == 4


def _shape(out):
    return tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
