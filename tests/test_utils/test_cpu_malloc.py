# Copyright (c) mmdense contributors. All rights reserved.
"""keep_freed_memory: glibc reuses freed tensor memory (no new page faults), off by env."""
import os
import subprocess
import sys
import textwrap

import pytest

from mmdense.utils import cpu_malloc


class _FakeLibc:

    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


@pytest.fixture
def fake_libc(monkeypatch):
    libc = _FakeLibc()
    monkeypatch.setattr(cpu_malloc, '_glibc', lambda: libc)
    monkeypatch.setattr(cpu_malloc, '_applied', False)
    monkeypatch.delenv(cpu_malloc.CPU_MALLOC_ENV, raising=False)
    return libc


def test_sets_the_three_options_once_and_logs_once(fake_libc):
    lines = []
    assert cpu_malloc.keep_freed_memory(lines.append)
    assert fake_libc.calls == [(cpu_malloc.M_MMAP_MAX, 0), (cpu_malloc.M_TRIM_THRESHOLD, -1),
                               (cpu_malloc.M_TOP_PAD, cpu_malloc.TOP_PAD_BYTES)]
    assert cpu_malloc.applied()
    assert cpu_malloc.keep_freed_memory(lines.append)  # idempotent
    assert len(fake_libc.calls) == 3 and len(lines) == 1
    assert cpu_malloc.CPU_MALLOC_ENV in lines[0]


@pytest.mark.parametrize('value', ['0', 'off', 'False'])
def test_env_turns_it_off(fake_libc, monkeypatch, value):
    monkeypatch.setenv(cpu_malloc.CPU_MALLOC_ENV, value)
    assert not cpu_malloc.keep_freed_memory(None)
    assert fake_libc.calls == [] and not cpu_malloc.applied()


def test_nothing_without_glibc_or_with_cuda(fake_libc, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert not cpu_malloc.keep_freed_memory_without_cuda(None)
    assert fake_libc.calls == []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(cpu_malloc, '_glibc', lambda: None)  # macOS, musl
    assert not cpu_malloc.keep_freed_memory_without_cuda(None)


def test_a_freed_tensor_is_reused_without_page_faults():
    """In a fresh process, after a few allocations of a 128 MiB tensor (the heap
    settles), the next one touches no new pages with the setting, and ~32k new
    pages (zero-filled by the kernel) without it."""
    if cpu_malloc._glibc() is None:
        pytest.skip('needs glibc')
    script = textwrap.dedent('''
        import resource, sys, torch
        from mmdense.utils.cpu_malloc import keep_freed_memory
        if sys.argv[1] == '1':
            assert keep_freed_memory(None)
        for _ in range(3):
            torch.ones(32 << 20)  # allocated, touched, freed
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.ones(32 << 20)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    ''')
    faults = {}
    for mode in ('0', '1'):
        env = {k: v for k, v in os.environ.items() if k != cpu_malloc.CPU_MALLOC_ENV}
        out = subprocess.run([sys.executable, '-c', script, mode], capture_output=True,
                             text=True, check=True, env=env)
        faults[mode] = int(out.stdout.strip().splitlines()[-1])
    pages = (128 << 20) // 4096
    assert faults['0'] > pages // 2  # glibc mapped it anew
    assert faults['1'] < pages // 20  # the freed block was reused
