# Copyright (c) mmdense contributors. All rights reserved.
import logging
from contextlib import contextmanager
from typing import Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.runner.amp import autocast

from mmdense.registry import OPTIM_WRAPPERS
from .grad_clip import PerParamClipMixin
from mmdense.utils.cpu_features import ASSUME_BF16_ENV, bf16_status, cpu_native_bf16


def _disabled_grad_scaler():
    """A pass-through ``GradScaler`` (kept for ``AmpOptimWrapper``'s
    checkpoint layout); ``torch.amp.GradScaler('cpu')`` needs torch >= 2.3."""
    try:
        return torch.amp.GradScaler('cpu', enabled=False)
    except (AttributeError, TypeError):  # pragma: no cover - torch < 2.3
        return torch.cuda.amp.GradScaler(enabled=False)


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(PerParamClipMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` for CPU: bfloat16 autocast, no loss scaling, on
    CPUs that compute bf16 natively.

    mmengine 0.10.7's ``AmpOptimWrapper`` asserts an accelerator when built,
    yet bfloat16 autocast is ~2.8x faster than fp32 on AVX-512/bf16 CPUs
    (SPEC §0). This subclass keeps ``AmpOptimWrapper``'s interface and
    checkpoint layout (a disabled ``GradScaler``: loss and step pass through
    unchanged; bfloat16 has float32's range) and autocasts on the CPU.
    ``tools/train.py --amp`` picks it when no accelerator is present.

    **Precision by machine.** On a CPU without native bf16 (no
    ``avx512_bf16`` / ``amx_bf16``, e.g. AVX2 only) bf16 is emulated and
    10-20x *slower* than fp32, so the wrapper falls back to fp32 (autocast
    off) and logs one warning line, unless ``force=True``
    (see :func:`mmdense.utils.cpu_features.cpu_native_bf16`; the environment
    variable ``MMDENSE_ASSUME_BF16=0/1`` overrides the detection).
    :attr:`autocast_enabled` says what was decided.

    Args:
        dtype (str | torch.dtype): autocast dtype; CPU autocast supports
            bfloat16 only. ``'float32'`` turns autocast off (plain fp32
            with this wrapper's checkpoint layout). Defaults to
            ``'bfloat16'``.
        force (bool): autocast to ``dtype`` even where bf16 is emulated.
            Defaults to False.
        **kwargs: keyword arguments of ``OptimWrapper``; ``clip_grad`` may
            say ``per_parameter=True`` (DINO's clipping,
            :mod:`mmdense.engine.optimizers.grad_clip`).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', force: bool = False,
                 **kwargs) -> None:
        OptimWrapper.__init__(self, **kwargs)
        self.check_clip_grad()
        self._scale_update_param = None
        self.loss_scaler = _disabled_grad_scaler()
        cast_dtype = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
        if cast_dtype not in (torch.bfloat16, torch.float32):
            raise ValueError(f"CPUAmpOptimWrapper: CPU autocast supports dtype='bfloat16' only "
                             f"('float32' turns it off), got {dtype!r}")
        self.cast_dtype = cast_dtype
        self.force = bool(force)
        #: why bf16 was turned off (None when autocast is on or dtype is fp32)
        self.fallback_reason = None
        self.autocast_enabled = cast_dtype == torch.bfloat16
        if self.autocast_enabled and not self.force and not cpu_native_bf16():
            self.autocast_enabled = False
            self.fallback_reason = bf16_status()
            print_log(f'CPUAmpOptimWrapper: training in float32, not bfloat16 autocast: '
                      f'{self.fallback_reason}; set optim_wrapper.force=True (or '
                      f'{ASSUME_BF16_ENV}=1) to use bfloat16 anyway.',
                      logger='current', level=logging.WARNING)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context plus CPU autocast (when enabled)."""
        with OptimWrapper.optim_context(self, model):
            if not self.autocast_enabled:
                yield
                return
            with autocast(device_type='cpu', dtype=self.cast_dtype):
                yield


#: the optimiser wrappers that autocast: mmengine's (accelerators), its
#: per-parameter clipping twin and the CPU one
AMP_WRAPPERS = ('AmpOptimWrapper', 'PerParamClipAmpOptimWrapper', 'CPUAmpOptimWrapper')


def optim_wrapper_type(wrapper: dict, amp: bool, accelerator: bool) -> str:
    """The wrapper type that runs the ``optim_wrapper`` config ``wrapper`` in
    fp32 (``amp=False``) or mixed precision, keeping per-parameter clipping.

    Per-parameter clipping (``clip_grad.per_parameter`` or a ``PerParamClip*``
    type) selects ``PerParamClipOptimWrapper`` / ``PerParamClipAmpOptimWrapper``;
    on a CPU mixed precision is ``CPUAmpOptimWrapper``, which clips per
    parameter itself. Shared by ``tools/train.py --amp`` and the benchmark.

    Args:
        wrapper (dict): the ``optim_wrapper`` config.
        amp (bool): mixed precision.
        accelerator (bool): a GPU (or NPU / MLU / MUSA) rather than the CPU.

    Returns:
        str: the registered wrapper type.
    """
    kind = str(wrapper.get('type', 'OptimWrapper')).split('.')[-1]
    per_parameter = kind.startswith('PerParamClip') or bool(
        (wrapper.get('clip_grad') or {}).get('per_parameter'))
    if not amp:
        return 'PerParamClipOptimWrapper' if per_parameter else 'OptimWrapper'
    if not accelerator:
        return 'CPUAmpOptimWrapper'
    return 'PerParamClipAmpOptimWrapper' if per_parameter else 'AmpOptimWrapper'
