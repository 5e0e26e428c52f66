# Copyright (c) mmdense contributors. All rights reserved.
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmdense module so that its components are registered.

    Args:
        init_default_scope (bool): also make 'mmdense' the current default
            scope (as ``default_scope='mmdense'`` in a config does).
    """
    import mmdense.datasets  # noqa: F401,F403
    import mmdense.engine  # noqa: F401,F403
    import mmdense.evaluation  # noqa: F401,F403
    import mmdense.models  # noqa: F401,F403
    import mmdense.structures  # noqa: F401,F403
    import mmdense.visualization  # noqa: F401,F403

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
