# Copyright (c) mmdense contributors. All rights reserved.
"""Export the backbone of an mmdense checkpoint for downstream training.

An mmdense training checkpoint (mmengine layout) holds the whole algorithm:
``state_dict`` keys such as ``backbone.layer1.0.conv1.weight`` (student) and
``teacher.module.backbone.layer1.0.conv1.weight`` (EMA teacher, the network the
papers keep for transfer), plus necks, heads, prototypes and the optimizer /
message-hub state. mmdet's, mmseg's and mmpretrain's backbones load a
``state_dict`` whose keys are the backbone's own (``conv1.weight``,
``layer1.0.conv1.weight`` ...), so the export is a prefix strip: generic, it
works for any backbone (ResNet, VisionTransformer ...).

The detectron2 layout (used by the official SlotCon/PixPro/DenseCL transfer
code) renames torchvision ResNet keys (``layer1`` -> ``res2`` ...), stores
numpy arrays and is a pickle; :func:`to_detectron2` builds it.

Which prefix (:func:`resolve_backbone_prefix`), first that applies:

1. an explicit ``prefix`` (``--prefix``);
2. the method's own answer: the checkpoint's ``meta['cfg']`` (mmengine stores
   the config text there) names ``model.type``; when that type is registered
   in ``mmdense.registry.MODELS`` and its class has ``backbone_prefix`` (every
   ``BaseDenseSelfSupervisor``), ``cls.backbone_prefix(network)`` is used;
3. only without a config, or for a type that is not a registered dense method:
   the key heuristics of :data:`NETWORK_PREFIXES`.

The config text is parsed (``ast``), never executed.
"""
import ast
import hashlib
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Dict, List, Optional, Tuple, Union

import torch

# Where each network's backbone lives in the state dicts of mmdense algorithms,
# most specific first. ``teacher.module.`` is MomentumTeacher (an mmengine
# averaged model wrapping a ModuleDict); ``module.`` appears when a raw DDP
# state dict was saved.
NETWORK_PREFIXES: Dict[str, Tuple[str, ...]] = {
    'teacher': ('teacher.module.backbone.', 'module.teacher.module.backbone.',
                'teacher.backbone.', 'momentum_encoder.module.backbone.',
                'momentum_encoder.backbone.', 'target_net.module.backbone.'),
    'student': ('backbone.', 'module.backbone.', 'student.backbone.',
                'student.module.backbone.'),
}

# Plain values that may go into the exported ``meta`` (the file must stay
# loadable with ``torch.load(weights_only=True)`` without importing mmdense).
_PLAIN = (str, int, float, bool, type(None))
SOURCE_META_KEYS = ('epoch', 'iter', 'seed', 'experiment_name', 'time', 'mmengine_version',
                    'mmengine', 'cfg', 'dataset_meta')


class BackboneNotFoundError(ValueError):
    """The checkpoint has no tensor under the requested backbone prefix."""


def load_checkpoint_safely(path: str) -> dict:
    """``torch.load(path, map_location='cpu', weights_only=True)``.

    :func:`mmdense.utils.install_checkpoint_safety` (called here) allow-lists
    the few mmengine / numpy classes a training checkpoint holds besides
    tensors; anything else is refused by torch.
    """
    from mmdense.utils import install_checkpoint_safety
    install_checkpoint_safety()
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        return torch.load(path, map_location='cpu')


def get_state_dict(checkpoint: dict, source: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """The model ``state_dict`` of an mmengine checkpoint (or a bare state dict)."""
    if not isinstance(checkpoint, dict):
        raise BackboneNotFoundError(f'{source}: expected a dict, got {type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not any(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise BackboneNotFoundError(
            f'{source}: no tensors in its state_dict (top-level keys: '
            f'{sorted(checkpoint)[:10]}); is it a model checkpoint?')
    return state_dict


def key_prefixes(state_dict: Dict[str, torch.Tensor], depth: int = 3) -> List[str]:
    """The distinct first ``depth`` components of the keys, e.g. ``teacher.module.neck``."""
    found = OrderedDict()
    for key in state_dict:
        found['.'.join(key.split('.')[:depth])] = None
    return list(found)


def find_backbone_prefix(state_dict: Dict[str, torch.Tensor],
                         network: str = 'teacher',
                         source: str = 'checkpoint') -> str:
    """The key prefix of ``network``'s backbone in ``state_dict``.

    Args:
        state_dict (dict): a model state dict.
        network (str): 'teacher' or 'student'.
        source (str): name of the file, for the error message.

    Raises:
        BackboneNotFoundError: when no known prefix has tensors.
    """
    if network not in NETWORK_PREFIXES:
        raise ValueError(f'network must be one of {sorted(NETWORK_PREFIXES)}, got {network!r}')
    for prefix in NETWORK_PREFIXES[network]:
        if any(k.startswith(prefix) for k in state_dict):
            return prefix
    other = [n for n in NETWORK_PREFIXES if n != network]
    hint = ''
    for name in other:
        if any(k.startswith(p) for p in NETWORK_PREFIXES[name] for k in state_dict):
            hint = f' It does have a {name} backbone: use --{name}.'
    raise BackboneNotFoundError(
        f'{source}: no {network} backbone weights (looked for keys starting with '
        f'{" / ".join(NETWORK_PREFIXES[network])}); its keys start with '
        f'{", ".join(key_prefixes(state_dict)[:12])}.{hint} Pass --prefix to name another.')


def extract_backbone(state_dict: Dict[str, torch.Tensor],
                     network: str = 'teacher',
                     prefix: Optional[str] = None,
                     source: str = 'checkpoint') -> Tuple['OrderedDict[str, torch.Tensor]', str]:
    """Strip the backbone prefix: ``{'conv1.weight': ..., 'layer1.0...': ...}``.

    Args:
        state_dict (dict): a model state dict.
        network (str): 'teacher' (default) or 'student'; ignored with ``prefix``.
        prefix (str, optional): explicit prefix, e.g. ``'teacher.module.backbone.'``.
        source (str): name of the file, for error messages.

    Returns:
        tuple: the backbone state dict (CPU tensors, same order) and the prefix.
    """
    if prefix is None:
        prefix = find_backbone_prefix(state_dict, network, source)
    elif not prefix.endswith('.'):
        prefix += '.'
    backbone = OrderedDict((k[len(prefix):], v.detach().cpu()) for k, v in state_dict.items()
                           if k.startswith(prefix) and isinstance(v, torch.Tensor))
    if not backbone:
        raise BackboneNotFoundError(
            f'{source}: no tensor has the prefix {prefix!r}; its keys start with '
            f'{", ".join(key_prefixes(state_dict)[:12])}')
    return backbone, prefix


# ---------------------------------------------------------------- the method's prefix
def config_model_type(cfg: Union[str, dict, None]) -> Optional[str]:
    """``model.type`` of a config given as mmengine's text (``meta['cfg']``)
    or as a dict; None when it cannot be told. The text is parsed, not run."""
    if cfg is None:
        return None
    if isinstance(cfg, dict) or hasattr(cfg, 'get'):
        model = cfg.get('model') if hasattr(cfg, 'get') else None
        model_type = model.get('type') if hasattr(model, 'get') else None
        return model_type if isinstance(model_type, str) else None
    if not isinstance(cfg, str):
        return None
    try:
        tree = ast.parse(cfg)
    except (SyntaxError, ValueError):
        return None
    model_type = None
    for node in tree.body:  # the last top-level `model = ...` wins, as when run
        if not isinstance(node, ast.Assign) or not any(
                isinstance(t, ast.Name) and t.id == 'model' for t in node.targets):
            continue
        value, found = node.value, None
        if isinstance(value, ast.Call) and getattr(value.func, 'id', None) == 'dict':
            found = next((kw.value for kw in value.keywords if kw.arg == 'type'), None)
        elif isinstance(value, ast.Dict):
            found = next((v for k, v in zip(value.keys, value.values)
                          if isinstance(k, ast.Constant) and k.value == 'type'), None)
        model_type = found.value if isinstance(found, ast.Constant) and isinstance(
            found.value, str) else None
    return model_type


def registered_method(model_type: Optional[str]):
    """The class registered as ``model_type`` in ``mmdense.registry.MODELS``
    if it tells its backbone prefix (``backbone_prefix``), else None."""
    if not model_type:
        return None
    import mmdense.models  # noqa: F401  (registers the methods)
    from mmdense.registry import MODELS
    try:
        cls = MODELS.get(model_type)
    except Exception:  # an unknown scope, a failed import ...
        return None
    if isinstance(cls, type) and callable(getattr(cls, 'backbone_prefix', None)):
        return cls
    return None


def resolve_backbone_prefix(checkpoint: dict,
                            state_dict: Dict[str, torch.Tensor],
                            network: str = 'teacher',
                            prefix: Optional[str] = None,
                            source: str = 'checkpoint') -> Tuple[str, str]:
    """The backbone prefix to export, and where it came from.

    See the module docstring for the order (explicit ``prefix``, the class's
    ``backbone_prefix``, the key heuristics).

    Returns:
        tuple: ``(prefix, origin)``; ``origin`` is ``'argument'``,
        ``'<Class>.backbone_prefix'`` or ``'key heuristics'``.

    Raises:
        BackboneNotFoundError: when the chosen prefix has no tensor.
    """
    if prefix is not None:
        return (prefix if prefix.endswith('.') else prefix + '.'), 'argument'
    if network not in NETWORK_PREFIXES:
        raise ValueError(f'network must be one of {sorted(NETWORK_PREFIXES)}, got {network!r}')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    cfg = meta.get('cfg') if isinstance(meta, dict) else None
    model_type = config_model_type(cfg)
    cls = registered_method(model_type)
    if cls is None:
        return find_backbone_prefix(state_dict, network, source), 'key heuristics'
    origin = f'{cls.__name__}.backbone_prefix'
    wanted = cls.backbone_prefix(network)
    for candidate in (wanted, 'module.' + wanted):  # 'module.': a raw DDP state dict
        if any(k.startswith(candidate) for k in state_dict):
            return candidate, origin
    raise BackboneNotFoundError(
        f'{source}: its config names {model_type}, whose {network} backbone lives under '
        f'{wanted!r} ({origin}), but no key starts with it; its keys start with '
        f'{", ".join(key_prefixes(state_dict)[:12])}. Pass --prefix to name another.')


# ---------------------------------------------------------------- detectron2
_D2_BLOCK = re.compile(r'^layer(\d+)\.(\d+)\.(.+)$')
_D2_INNER = (
    (re.compile(r'^downsample\.0\.(.+)$'), r'shortcut.\1'),
    (re.compile(r'^downsample\.1\.(.+)$'), r'shortcut.norm.\1'),
    (re.compile(r'^bn(\d+)\.(.+)$'), r'conv\1.norm.\2'),
    (re.compile(r'^(conv\d+\..+)$'), r'\1'),
)


def torchvision_to_detectron2_key(key: str) -> str:
    """Rename one torchvision-layout ResNet key to detectron2's.

    ``conv1`` -> ``stem.conv1``, ``bn1`` -> ``stem.conv1.norm``,
    ``layerN.i`` -> ``res{N+1}.i``, ``downsample.0`` -> ``shortcut``,
    ``downsample.1`` -> ``shortcut.norm``, ``bnK`` -> ``convK.norm``.

    Raises:
        KeyError: for a key that is not part of a torchvision-stem ResNet
            (deep stem, ViT, a classifier ...).
    """
    if key.startswith('conv1.'):
        return 'stem.' + key
    if key.startswith('bn1.'):
        return 'stem.conv1.norm.' + key[len('bn1.'):]
    match = _D2_BLOCK.match(key)
    if match:
        stage, block, rest = match.groups()
        for pattern, repl in _D2_INNER:
            if pattern.match(rest):
                return f'res{int(stage) + 1}.{block}.' + pattern.sub(repl, rest)
    raise KeyError(f'{key!r} is not a key of a torchvision-layout ResNet backbone; '
                   'the detectron2 layout is only defined for those')


def to_detectron2(backbone: Dict[str, torch.Tensor]) -> dict:
    """detectron2's checkpoint dict for a torchvision-layout ResNet backbone.

    ``num_batches_tracked`` counters are dropped (detectron2's frozen and
    synchronised BN load without them). The result is what detectron2's
    ``DetectionCheckpointer`` reads from a ``.pkl``.
    """
    model = OrderedDict()
    for key, value in backbone.items():
        if key.endswith('num_batches_tracked'):
            continue
        model[torchvision_to_detectron2_key(key)] = value.detach().cpu().float().numpy() \
            if value.is_floating_point() else value.detach().cpu().numpy()
    return {'model': model, '__author__': 'mmdense', 'matching_heuristics': True}


# ---------------------------------------------------------------- summary
def _plain(value, depth: int = 0):
    """``value`` with everything but plain python data dropped (None if nothing)."""
    if isinstance(value, _PLAIN):
        return value
    if depth < 4 and isinstance(value, (list, tuple)):
        items = [_plain(v, depth + 1) for v in value]
        return [v for v in items if v is not None]
    if depth < 4 and isinstance(value, dict):
        items = {str(k): _plain(v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not None}
    if hasattr(value, 'item') and getattr(value, 'ndim', 1) == 0:  # numpy / torch scalars
        return _plain(value.item(), depth)
    return None


def describe_backbone(backbone: Dict[str, torch.Tensor]) -> List[str]:
    """Human-readable summary lines: per top-level module, tensors and parameters."""
    groups: 'OrderedDict[str, List[int]]' = OrderedDict()
    for key, value in backbone.items():
        count = groups.setdefault(key.split('.')[0], [0, 0])
        count[0] += 1
        count[1] += value.numel()
    lines = [f'  {name:<16} {n:>4} tensors {p / 1e6:>9.3f} M values' for name, (n, p) in groups.items()]
    blocks = {}
    for key in backbone:
        match = _D2_BLOCK.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    if blocks:
        last = max(blocks)
        out_channels = [v.shape[0] for k, v in backbone.items()
                        if k.startswith(f'layer{last}.') and v.ndim == 4]
        lines.append(f'  ResNet-like: blocks per stage {tuple(len(blocks[s]) for s in sorted(blocks))}, '
                     f'last stage outputs {out_channels[-1] if out_channels else "?"} channels')
    shapes = list(backbone.items())
    for key, value in shapes[:2] + shapes[-2:]:
        lines.append(f'  {key}: {tuple(value.shape)}')
    return lines


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def detectron2_path(out: str) -> str:
    """Where ``--detectron2`` writes: ``backbone.pth`` -> ``backbone_d2.pkl``."""
    return osp.splitext(out)[0] + '_d2.pkl'


def export_backbone(src: str,
                    out: str,
                    network: str = 'teacher',
                    prefix: Optional[str] = None,
                    detectron2: bool = False) -> dict:
    """Write ``{'state_dict': backbone, 'meta': provenance}`` to ``out``.

    Args:
        src (str): mmdense (mmengine) checkpoint.
        out (str): output ``.pth``.
        network (str): 'teacher' (default) or 'student'.
        prefix (str, optional): explicit key prefix instead of ``network``'s
            (by default the method's, see :func:`resolve_backbone_prefix`).
        detectron2 (bool): also write :func:`detectron2_path` (``out``).

    Returns:
        dict: what was written: ``state_dict``, ``meta``, ``paths``, ``summary``.

    Raises:
        NonFiniteCheckpointError: ``src`` holds NaN/Inf weights (nothing is
            written).
    """
    if osp.abspath(src) == osp.abspath(out):
        raise ValueError(f'refusing to overwrite the source checkpoint {src}')
    checkpoint = load_checkpoint_safely(src)
    state_dict = get_state_dict(checkpoint, source=src)
    # NaN/Inf weights are refused (training refuses to save them, too)
    from mmdense.utils.checkpoint_compat import check_finite
    check_finite(state_dict, src)
    prefix, prefix_from = resolve_backbone_prefix(checkpoint, state_dict, network, prefix, src)
    backbone, prefix = extract_backbone(state_dict, network, prefix, source=src)
    d2 = to_detectron2(backbone) if detectron2 else None  # fail before writing anything

    from mmdense import __version__
    source_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    source_meta = _plain({k: source_meta[k] for k in SOURCE_META_KEYS if k in source_meta}) or {}
    meta = dict(
        exported_by='mmdense tools/model_converters/extract_backbone.py',
        mmdense_version=__version__,
        export_time=datetime.now(timezone.utc).isoformat(timespec='seconds'),
        source=osp.abspath(src),
        source_sha256=sha256_of(src),
        network=network if prefix_from != 'argument'
        or prefix in NETWORK_PREFIXES.get(network, ()) else 'custom',
        prefix=prefix,
        prefix_from=prefix_from,
        num_tensors=len(backbone),
        num_values=int(sum(v.numel() for v in backbone.values())),
        source_meta=source_meta,
    )
    out_dir = osp.dirname(osp.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    torch.save({'state_dict': backbone, 'meta': meta}, out)
    paths = [out]
    if d2 is not None:
        d2_out = detectron2_path(out)
        with open(d2_out, 'wb') as f:
            pickle.dump(d2, f, protocol=pickle.HIGHEST_PROTOCOL)
        paths.append(d2_out)
    return dict(state_dict=backbone, meta=meta, paths=paths, summary=describe_backbone(backbone))

