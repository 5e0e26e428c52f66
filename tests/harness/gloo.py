# Copyright (c) mmdense contributors. All rights reserved.
"""One harness for the "N gloo processes == 1 process" tests.

:func:`run_ranks` starts ``world`` CPU processes joined by a gloo process
group, calls ``fn(rank, world, *args)`` in each (mmdense registered, one
torch thread each) and returns the results ordered by rank. ``fn`` must be
a module-level function (the processes are spawned or forked) and return
picklable data (tensors are sent as numpy arrays by the caller if needed).
:func:`one_rank_group` is the in-process world-size-1 group for code paths
that need ``torch.distributed`` initialised.
"""
import contextlib
import os
import socket
import sys
import traceback
from typing import Any, Callable, Iterator, List

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, queue, fn: Callable, args: tuple) -> None:
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch_dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        from mmdense.utils import register_all_modules
        register_all_modules()
        queue.put((rank, True, fn(rank, world, *args)))
    except BaseException:  # report, do not hang the parent
        queue.put((rank, False, traceback.format_exc()))
    finally:
        torch_dist.destroy_process_group()


def run_ranks(fn: Callable, world: int = 2, *args: Any, start_method: str = 'fork',
              timeout: float = 300) -> List[Any]:
    """Run ``fn(rank, world, *args)`` on ``world`` gloo ranks.

    Args:
        fn (callable): module-level function.
        world (int): number of processes.
        *args: passed to ``fn``.
        start_method (str): 'fork' (fast: children share this process's
            imports) or 'spawn' (a fresh interpreter per rank).
        timeout (float): seconds to wait for each rank's result.

    Returns:
        list: ``fn``'s results, by rank.

    Raises:
        RuntimeError: with the rank's traceback if ``fn`` raised.
    """
    ctx = mp.get_context(start_method)
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, world, port, queue, fn, args))
             for r in range(world)]
    for p in procs:
        p.start()
    try:
        results = {}
        for _ in procs:
            rank, ok, value = queue.get(timeout=timeout)
            if not ok:
                raise RuntimeError(f'rank {rank} failed:\n{value}')
            results[rank] = value
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    for p in procs:
        assert p.exitcode == 0, f'a rank exited with {p.exitcode}'
    return [results[r] for r in range(world)]


@contextlib.contextmanager
def one_rank_group() -> Iterator[None]:
    """A world-size-1 gloo group in this process (for DDP wrappers)."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    torch_dist.init_process_group('gloo', rank=0, world_size=1)
    try:
        yield
    finally:
        torch_dist.destroy_process_group()
