# Copyright (c) mmdense contributors. All rights reserved.
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmdense module so that its components are registered.

    Each registry of :mod:`mmdense.registry` knows the package that fills it
    (its ``locations``: ``mmdense.models``, ``mmdense.datasets``,
    ``mmdense.engine``, ``mmdense.evaluation``, ``mmdense.visualization``);
    importing them through the registries keeps ``mmdense.utils`` free of
    imports of the packages that use it (no import cycle).

    Args:
        init_default_scope (bool): also make 'mmdense' the current default
            scope (as ``default_scope='mmdense'`` in a config does).
    """
    from mmdense import registry
    for name in dir(registry):
        candidate = getattr(registry, name)
        if name.isupper() and getattr(candidate, 'scope', None) == 'mmdense':
            candidate.import_from_location()

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmdense'):
        DefaultScope.get_instance('mmdense', scope_name='mmdense')
    elif current.scope_name != 'mmdense':
        warnings.warn(f'The current default scope "{current.scope_name}" is not "mmdense"; '
                      '`register_all_modules` makes a new default scope "mmdense".')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S%f')
        DefaultScope.get_instance(f'mmdense-{stamp}', scope_name='mmdense')
