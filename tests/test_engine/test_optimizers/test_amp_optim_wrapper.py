# Copyright (c) mmdense contributors. All rights reserved.
import pytest
import torch

import mmdense.engine  # noqa: F401  (registers CPUAmpOptimWrapper)
from mmdense.engine.optimizers import amp_optim_wrapper
from mmdense.engine.optimizers.amp_optim_wrapper import CPUAmpOptimWrapper
from mmdense.utils.cpu_features import ASSUME_BF16_ENV


@pytest.fixture
def logged(monkeypatch):
    """The wrapper's log lines, and a CPU whose bf16 capability we choose."""
    lines = []
    monkeypatch.setattr(amp_optim_wrapper, 'print_log',
                        lambda msg, logger=None, level=None: lines.append(msg))
    return lines


def _cpu_has_bf16(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(amp_optim_wrapper, 'cpu_native_bf16', lambda: native)


def _wrapper(**kwargs):
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.Linear(4, 2)
    cfg = dict(type='CPUAmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1), **kwargs)
    return model, build_optim_wrapper(model, cfg)


def _forward_dtype(model, wrapper):
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
        enabled = torch.is_autocast_enabled('cpu') if _has_device_arg() else \
            torch.is_autocast_cpu_enabled()
    return out.dtype, enabled


def _has_device_arg() -> bool:
    try:
        torch.is_autocast_enabled('cpu')
        return True
    except TypeError:  # torch < 2.4
        return False


def test_cpu_amp_wrapper_trains_in_bfloat16(monkeypatch):
    monkeypatch.setenv(ASSUME_BF16_ENV, '1')  # a CPU with native bf16
    model, optim_wrapper = _wrapper(dtype='bfloat16')
    before = model.weight.detach().clone()
    with optim_wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    optim_wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)
    assert model.weight.dtype == torch.float32
    state = optim_wrapper.state_dict()
    optim_wrapper.load_state_dict(state)


def test_native_bf16_cpu_autocasts(monkeypatch, logged):
    _cpu_has_bf16(monkeypatch, True)
    model, wrapper = _wrapper()
    assert wrapper.autocast_enabled and wrapper.fallback_reason is None
    assert _forward_dtype(model, wrapper) == (torch.bfloat16, True)
    assert logged == []


def test_emulated_bf16_cpu_falls_back_to_fp32_with_one_line(monkeypatch, logged):
    _cpu_has_bf16(monkeypatch, False)
    model, wrapper = _wrapper()
    assert not wrapper.autocast_enabled and wrapper.fallback_reason
    dtype, enabled = _forward_dtype(model, wrapper)
    assert dtype == torch.float32 and not enabled
    with wrapper.optim_context(model):  # more steps: no more log lines
        loss = model(torch.randn(3, 4)).pow(2).mean()
    wrapper.update_params(loss)
    assert len(logged) == 1 and '\n' not in logged[0]
    assert 'float32' in logged[0] and 'force=True' in logged[0]
    # the checkpoint layout is AmpOptimWrapper's either way
    assert 'loss_scaler' in wrapper.state_dict()


def test_force_insists_on_bf16(monkeypatch, logged):
    _cpu_has_bf16(monkeypatch, False)
    model, wrapper = _wrapper(force=True)
    assert wrapper.autocast_enabled
    assert _forward_dtype(model, wrapper) == (torch.bfloat16, True)
    assert logged == []


@pytest.mark.parametrize('value, dtype', [('0', torch.float32), ('1', torch.bfloat16)])
def test_env_override_decides(monkeypatch, logged, value, dtype):
    monkeypatch.setenv(ASSUME_BF16_ENV, value)  # the real capability check reads it
    model, wrapper = _wrapper()
    assert _forward_dtype(model, wrapper)[0] == dtype
    assert len(logged) == (1 if value == '0' else 0)


def test_float32_dtype_turns_autocast_off_quietly(monkeypatch, logged):
    _cpu_has_bf16(monkeypatch, True)
    model, wrapper = _wrapper(dtype='float32')
    assert _forward_dtype(model, wrapper) == (torch.float32, False)
    assert logged == []
    with pytest.raises(ValueError, match='bfloat16'):
        CPUAmpOptimWrapper(dtype='float16',
                           optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
