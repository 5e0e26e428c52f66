# Copyright (c) mmdense contributors. All rights reserved.
"""Tiny test configs written to a file (what the command-line tools read)."""
from pathlib import Path


def write_eval_config(folder, model: dict, num_samples: int = 6, img_size: int = 64,
                      batch_size: int = 3, seed: int = 11, name: str = 'tiny_cfg.py') -> str:
    """A config with ``model`` and a synthetic-scene ``test_dataloader``.

    Returns:
        str: the config's path.
    """
    path = Path(folder) / name
    path.write_text(f'''
default_scope = 'mmdense'
model = {model!r}
test_dataloader = dict(
    batch_size={batch_size}, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='SyntheticSceneDataset', num_samples={num_samples},
                 img_size={img_size}, seed={seed}, test_mode=True,
                 pipeline=[dict(type='mmseg.PackSegInputs',
                                meta_keys=('img_path', 'ori_shape', 'img_shape', 'sample_idx'))]))
''')
    return str(path)


def config_problems(cfg, mode: str = 'train') -> str:
    """The text of the ConfigError ``validate_config`` must raise for ``cfg``."""
    import pytest

    from mmdense.utils.config_validation import ConfigError, validate_config
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, mode)
    return str(err.value)
