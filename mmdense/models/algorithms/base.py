# Copyright (c) mmdense contributors. All rights reserved.
"""The non-finite-loss policy shared by mmdense's algorithms.

A NaN/Inf loss that reaches ``optim_wrapper.update_params`` turns the weights
into NaN, and every later checkpoint with them. :class:`NonFiniteLossMixin`
checks every loss term *before* the update:

- ``nonfinite_loss='raise'`` (default): stop with :class:`NonFiniteLossError`
  naming the iteration and the non-finite terms (e.g. ``loss_contrast=nan``);
  nothing is updated, so the last checkpoint is the last good state.
- ``nonfinite_loss='skip'``: drop the step (gradients cleared, no optimizer
  step; floating-point buffers such as BatchNorm statistics and SlotCon's
  centre, which the forward pass already moved, are restored), log a warning
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
from mmengine.logging import MessageHub, print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from mmdense.models.utils import all_reduce_max
from mmdense.registry import MODEL_WRAPPERS

NONFINITE_POLICIES = ('raise', 'skip')


class NonFiniteLossError(FloatingPointError):
    """A loss term is NaN or Inf; raised before any parameter is updated."""


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
    def _float_buffers(self) -> List[torch.Tensor]:
        return [b for b in self.buffers() if b.is_floating_point()]

    def _guarded_train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapper,
                            wrapper: Optional[torch.nn.Module] = None) -> Dict[str, torch.Tensor]:
        """``BaseModel.train_step`` with the check before ``update_params``.

        ``wrapper``: the DDP wrapper whose forward must be used, if any.
        """
        runner_model = self if wrapper is None else wrapper
        snapshot = None
        if self.nonfinite_loss == 'skip':
            snapshot = [b.detach().clone() for b in self._float_buffers()]
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
        # skip: no backward, no step; undo the forward's buffer updates
        optim_wrapper.zero_grad()
        with torch.no_grad():
            for buf, old in zip(self._float_buffers(), snapshot):
                buf.copy_(old)
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
