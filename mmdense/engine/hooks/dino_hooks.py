# Copyright (c) mmdense contributors. All rights reserved.
"""DINO-style training schedules that are not optimiser parameters.

mmengine's parameter schedulers only move optimiser hyper-parameters, and
mmpretrain 1.2's ``WarmupParamHook`` warms a module attribute up from 0
(DINO's teacher temperature starts at 0.04, not 0) and has no freezing of a
head's last layer. Both hooks are stateless: the value depends only on the
runner's epoch / iteration, so a resumed run sets exactly what the original
run did.
"""
import operator
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmdense.registry import HOOKS


def _progress(runner, by_epoch: bool) -> int:
    return runner.epoch if by_epoch else runner.iter


@HOOKS.register_module()
class TeacherTempWarmupHook(Hook):
    """Linear warm-up of the ``teacher_temp`` of some loss modules.

    DINO's schedule: ``linspace(warmup_temp, final, W)[t]`` for ``t < W``,
    then ``final``, where ``t`` is the epoch (``by_epoch``, DINO / CrOC) or
    the iteration and ``final`` is each module's configured ``teacher_temp``
    (read once, before training).

    Args:
        module_names (Sequence[str]): dotted attribute paths of the modules
            in the model (e.g. ``('global_loss', 'dense_loss')``).
        warmup_temp (float): temperature at ``t = 0`` (0.04).
        warmup (int): W, epochs or iterations of the warm-up (30 epochs);
            0 disables it.
        by_epoch (bool): count ``t`` in epochs (True) or iterations.
    """

    priority = 'NORMAL'

    def __init__(self, module_names: Sequence[str], warmup_temp: float = 0.04,
                 warmup: int = 30, by_epoch: bool = True) -> None:
        if isinstance(module_names, str) or not module_names:
            raise ValueError('TeacherTempWarmupHook: module_names must be a non-empty sequence '
                             f'of attribute paths, got {module_names!r}')
        if warmup < 0 or warmup_temp <= 0:
            raise ValueError(f'TeacherTempWarmupHook: need warmup >= 0 and warmup_temp > 0, got '
                             f'{warmup} and {warmup_temp}')
        self.getters = [(name, operator.attrgetter(name)) for name in module_names]
        self.warmup_temp = float(warmup_temp)
        self.warmup = int(warmup)
        self.by_epoch = by_epoch
        self.final_temps: Optional[list] = None

    def temperature(self, final: float, step: int) -> float:
        """The temperature at epoch / iteration ``step``."""
        if step >= self.warmup:
            return final
        if self.warmup == 1:
            return self.warmup_temp
        return self.warmup_temp + (final - self.warmup_temp) * step / (self.warmup - 1)

    def before_train(self, runner) -> None:
        model = get_ori_model(runner.model)
        modules = []
        for name, getter in self.getters:
            try:
                modules.append(getter(model))
            except AttributeError as err:
                raise AttributeError(f'TeacherTempWarmupHook: the model has no module {name!r} '
                                     f'({type(model).__name__})') from err
        if self.final_temps is None:
            self.final_temps = [float(m.teacher_temp) for m in modules]
        self.modules = modules

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        step = _progress(runner, self.by_epoch)
        for module, final in zip(self.modules, self.final_temps):
            module.teacher_temp = self.temperature(final, step)


@HOOKS.register_module()
class FreezeLastLayerHook(Hook):
    """Keep the prototype (last) layers of the heads frozen at the start.

    Calls ``freeze_last_layer(t < frozen)`` on every module of the model that
    has that method (``DINOHead``) before each training iteration, ``t`` in
    epochs (DINO / CrOC: 1 epoch) or iterations.

    Args:
        frozen (int): epochs or iterations with frozen last layers.
        by_epoch (bool): count in epochs (True) or iterations.
    """

    priority = 'NORMAL'

    def __init__(self, frozen: int = 1, by_epoch: bool = True) -> None:
        if frozen < 0:
            raise ValueError(f'FreezeLastLayerHook: frozen must be >= 0, got {frozen}')
        self.frozen = int(frozen)
        self.by_epoch = by_epoch

    def before_train(self, runner) -> None:
        self.heads = [m for m in get_ori_model(runner.model).modules()
                      if callable(getattr(m, 'freeze_last_layer', None))]
        if not self.heads:
            raise ValueError('FreezeLastLayerHook: the model has no module with '
                             'freeze_last_layer() (e.g. DINOHead)')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        flag = _progress(runner, self.by_epoch) < self.frozen
        for head in self.heads:
            head.freeze_last_layer(flag)
