# Copyright (c) mmdense contributors. All rights reserved.
"""A user registers a component from their own module through ``custom_imports``."""
import textwrap

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from mmdense.registry import MODELS

USER_MODULE = textwrap.dedent('''
    import torch.nn as nn
    from mmdense.registry import MODELS

    @MODELS.register_module()
    class MyUserNeck(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.proj = nn.Conv2d(in_channels, out_channels, 1)

        def forward(self, x):
            return self.proj(x[-1] if isinstance(x, (list, tuple)) else x)
''')


def test_custom_imports_registers_a_user_neck(tmp_path, monkeypatch, repo_root):
    (tmp_path / 'my_user_components.py').write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg_file = tmp_path / 'user_cfg.py'
    cfg_file.write_text(textwrap.dedent(f'''
        _base_ = ['{repo_root}/configs/slotcon/slotcon_resnet18-narrow_1xb32-400iters_synthetic.py']
        custom_imports = dict(imports=['my_user_components'], allow_failed_imports=False)
        model = dict(neck=dict(_delete_=True, type='MyUserNeck', in_channels=256,
                               out_channels=128))
    '''))
    cfg = Config.fromfile(str(cfg_file))
    # what mmengine's Runner does with custom_imports
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmdense')
    model = MODELS.build(cfg.model)
    assert type(model.neck).__name__ == 'MyUserNeck'
    assert type(model.neck).__module__ == 'my_user_components'
    assert type(model.teacher.module['neck']).__name__ == 'MyUserNeck'
