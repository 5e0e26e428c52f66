# Copyright (c) mmdense contributors. All rights reserved.
"""The package's import graph: no cycle, layers respected, every module
importable on its own.

The graph is built from the source (``ast``), counting module-level *and*
function-level imports: a lazy import inside a function is still a
dependency. An import of ``a.b.c`` is an edge to ``a.b.c`` (its
``__init__`` when it is a package); ``from a.b import c`` is an edge to the
submodule ``a.b.c`` when it exists, else to the package ``a.b``.
"""
import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / 'mmdense'

# layer -> packages it must never import (directly or lazily)
FORBIDDEN = {
    'mmdense.models': ('mmdense.evaluation', 'mmdense.visualization', 'mmdense.engine',
                       'mmdense.apis', 'mmdense.datasets'),
    'mmdense.structures': ('mmdense.models', 'mmdense.datasets', 'mmdense.evaluation',
                           'mmdense.visualization', 'mmdense.engine', 'mmdense.apis'),
    'mmdense.utils': ('mmdense.models', 'mmdense.datasets', 'mmdense.evaluation',
                      'mmdense.visualization', 'mmdense.engine', 'mmdense.apis'),
    'mmdense.evaluation': ('mmdense.visualization', 'mmdense.engine', 'mmdense.apis'),
    'mmdense.visualization': ('mmdense.engine', 'mmdense.apis'),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix('')
    parts = list(rel.parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def all_modules() -> Dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _resolve(name: str, modules: Dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is an mmdense module."""
    parts = name.split('.')
    while parts and '.'.join(parts) not in modules:
        parts.pop()
    return '.'.join(parts)


def imports_of(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == '__init__.py'
    package = name if is_package else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                prefix = '.'.join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ''
            targets = [f'{prefix}.{alias.name}' if f'{prefix}.{alias.name}' in modules else prefix
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split('.')[0] == 'mmdense':
                resolved = _resolve(target, modules)
                if resolved and resolved != name:
                    found.add(resolved)
    return found


def import_graph() -> Dict[str, Set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_planted_cycle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert find_cycles(graph) == [['a', 'b', 'c']]
    assert find_cycles({'a': {'b'}, 'b': set()}) == []


def test_relative_and_lazy_imports_are_edges(tmp_path):
    graph = import_graph()
    # a relative import (slotcon -> .base) and a function-level one are both seen
    assert 'mmdense.models.algorithms.base' in graph['mmdense.models.algorithms.slotcon']
    assert 'mmdense.registry' in graph['mmdense.utils.setup_env']


def test_no_import_cycle_in_the_package():
    cycles = find_cycles(import_graph())
    assert not cycles, 'import cycles:\n' + '\n'.join(' -> '.join(c) for c in cycles)


@pytest.mark.parametrize('layer', sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(layer):
    graph = import_graph()
    bad = sorted(f'{src} imports {dst}' for src, dsts in graph.items()
                 if src == layer or src.startswith(layer + '.') for dst in dsts
                 if any(dst == f or dst.startswith(f + '.') for f in FORBIDDEN[layer]))
    assert not bad, '\n'.join(bad)


def test_every_module_imports_on_its_own():
    """Each module imported with no other mmdense module loaded before it, in
    one fresh interpreter: an import that only works after another module
    was loaded fails here. Third-party packages stay cached (fast); the
    registries stay too (they are children of mmpretrain's, which refuse a
    second child of one scope), emptied before each import."""
    names = sorted(all_modules())
    script = (
        'import importlib, sys, traceback\n'
        'import mmdense.registry as R\n'
        'registries = [getattr(R, n) for n in dir(R) if n.isupper()]\n'
        f'names = {names!r}\n'
        'failed = []\n'
        'for name in names:\n'
        '    for loaded in [m for m in sys.modules\n'
        '                   if (m == "mmdense" or m.startswith("mmdense.")) and m != "mmdense.registry"]:\n'
        '        del sys.modules[loaded]\n'
        '    for registry in registries:\n'
        '        registry._module_dict.clear()\n'
        '        registry._imported = False\n'
        '    try:\n'
        '        importlib.import_module(name)\n'
        '    except Exception:\n'
        '        failed.append(name + ":\\n" + traceback.format_exc(limit=3))\n'
        'print("\\n".join(failed))\n'
        'sys.exit(1 if failed else 0)\n')
    proc = subprocess.run([sys.executable, '-c', script], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
