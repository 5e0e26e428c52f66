# Copyright (c) mmdense contributors. All rights reserved.
"""mmdense.utils.cpu_features: /proc/cpuinfo flags and the bf16 decision."""
import pytest

from mmdense.utils import cpu_features
from mmdense.utils.cpu_features import (ASSUME_BF16_ENV, bf16_status, cpu_flags, cpu_model_name,
                                        cpu_native_bf16, precision_flags)

AVX2_ONLY = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx avx2 fma bmi2
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx avx2 fma bmi2
"""
AVX512_BF16 = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu avx avx2 avx512f avx512bw avx512_bf16 avx512_vnni
"""
AMX = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: avx2 avx512f amx_bf16 amx_tile amx_int8
"""
ARM_BF16 = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics bf16 i8mm
CPU implementer\t: 0x41
"""


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv(ASSUME_BF16_ENV, raising=False)


@pytest.mark.parametrize('text, native', [(AVX2_ONLY, False), (AVX512_BF16, True), (AMX, True),
                                          (ARM_BF16, True)])
def test_native_bf16_from_flags(text, native):
    assert cpu_native_bf16(text) is native
    assert ('native' in bf16_status(text)) is native


def test_flags_and_model_name():
    assert 'avx2' in cpu_flags(AVX2_ONLY) and 'avx512f' not in cpu_flags(AVX2_ONLY)
    assert cpu_model_name(AVX512_BF16) == 'AMD EPYC 9R14'
    assert precision_flags(AMX) == dict(avx2=True, avx512f=True, avx512_bf16=False,
                                        amx_bf16=True, amx_tile=True)
    assert precision_flags(AVX2_ONLY)['avx2'] and not precision_flags(AVX2_ONLY)['avx512_bf16']
    assert cpu_flags('') == frozenset()


@pytest.mark.parametrize('value, native', [('1', True), ('0', False), ('true', True),
                                           ('off', False)])
def test_env_override_wins(monkeypatch, value, native):
    monkeypatch.setenv(ASSUME_BF16_ENV, value)
    assert cpu_native_bf16(AVX2_ONLY) is native
    assert cpu_native_bf16(AMX) is native
    assert ASSUME_BF16_ENV in bf16_status()


def test_env_override_rejects_garbage(monkeypatch):
    monkeypatch.setenv(ASSUME_BF16_ENV, 'maybe')
    with pytest.raises(ValueError, match=ASSUME_BF16_ENV):
        cpu_native_bf16(AVX2_ONLY)


def test_reads_proc_cpuinfo(monkeypatch):
    monkeypatch.setattr(cpu_features, '_read_cpuinfo', lambda path=None: AMX)
    assert cpu_native_bf16() is True
    assert cpu_model_name().startswith('Intel')
    monkeypatch.setattr(cpu_features, '_read_cpuinfo', lambda path=None: AVX2_ONLY)
    assert cpu_native_bf16() is False
    # this machine: answers without raising
    monkeypatch.undo()
    assert isinstance(cpu_native_bf16(), bool) and cpu_model_name()
