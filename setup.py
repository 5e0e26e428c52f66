# Copyright (c) mmdense contributors. All rights reserved.
import os.path as osp
import re

from setuptools import find_packages, setup


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


if __name__ == '__main__':
    setup(
        name='mmdense',
        version=read_version(),
        description='OpenMMLab toolbox for self-supervised dense representation learning',
        long_description=open('README.md').read() if osp.exists('README.md') else '',
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mminstall.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
        },
        zip_safe=False)
