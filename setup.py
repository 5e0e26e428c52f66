# Copyright (c) mmdense contributors. All rights reserved.
import os
import os.path as osp
import re
import shutil
import sys

from setuptools import find_packages, setup

# What OpenMMLab's `mim` reads from an installed package (as mmpretrain ships them).
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def read_version() -> str:
    text = open(osp.join(osp.dirname(__file__), 'mmdense', 'version.py')).read()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


def parse_requirements(fname: str) -> list:
    """Read a requirements file, following ``-r`` includes, skipping comments."""
    reqs = []
    for line in open(fname):
        line = line.split('#')[0].strip()
        if not line:
            continue
        if line.startswith('-r '):
            reqs += parse_requirements(osp.join(osp.dirname(fname), line[3:].strip()))
        else:
            reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Put ``configs/``, ``tools/`` and ``model-index.yml`` under
    ``mmdense/.mim`` so that ``mim list`` / ``mim search mmdense`` /
    ``mim train mmdense CONFIG`` find them: symbolic links for an editable
    install (the checkout stays the source of truth), copies for a wheel."""
    if any(cmd in sys.argv for cmd in ('develop', 'editable_wheel')):
        mode = 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'build', 'install')):
        mode = 'copy'
    else:
        return
    root = osp.dirname(osp.abspath(__file__))
    mim_dir = osp.join(root, 'mmdense', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(root, name), osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmdense',
        version=read_version(),
        description='OpenMMLab toolbox for self-supervised dense representation learning',
        long_description=open('README.md').read() if osp.exists('README.md') else '',
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        package_data={'mmdense': ['.mim/model-index.yml', '.mim/configs/**/*', '.mim/tools/**/*']},
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mminstall.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
        },
        zip_safe=False)
