# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Draw TransFER's attention maps over input faces.

Usage::

    python tools/visualization/vis_attention.py CONFIG CHECKPOINT IMAGE
        [IMAGE ...] --out-dir DIR [--block -1] [--device cpu]
        [--trust-checkpoint] [--cfg-options KEY=VALUE ...]

Each image goes through the config's test pipeline (so the input size and
normalisation are the ones the model was tested with) and through the model
in eval mode; forward hooks (no change to the model code) keep:

- the **LANet attention maps**: TransFER's local attention networks each
  predict one spatial map in (0, 1) over the stem CNN's feature map (6x6
  for the 48-pixel CPU model, 14x14 at 112 pixels);
- the **merged map**: Multi-Attention Dropping (MAD) merges the LANet maps
  by an element-wise max and multiplies the features by it. In eval mode MAD
  drops nothing, so this is exactly the map the model used;
- the **CLS attention** of ViT-FER: how much the CLS token attends to each
  patch token in transformer block ``--block`` (default -1, the last, the
  one whose CLS output the classifier reads). It is the softmax over the
  tokens of the CLS query's pre-softmax logits (what the block itself
  applies), averaged over the heads (MSAD drops no head in eval mode), with
  the CLS-to-CLS weight left out and the patch weights renormalised to sum
  to 1 (the CLS self-weight is kept in the ``.npz``), then laid on the patch
  grid.

APViT models (``configs/apvit/*.py``) have no LANets: their maps are skipped
with a note. Their attentive patch and token pooling remove tokens before
the chosen block; the positions the kept tokens came from are recovered by
hooks on the pooling modules (running the module's own selection on the
token positions), so the CLS map is still laid on the grid, with 0 where a
patch had been removed (``cls_attention_kept`` in the ``.npz`` marks the
kept ones).

Written to ``--out-dir`` for each image ``<stem>.<ext>``:

- ``<stem>_lanet<i>.png``, ``<stem>_lanet_max.png``,
  ``<stem>_cls_attention.png``: the map upsampled bilinearly to the face
  the model saw (after the test pipeline's resize) and overlaid on it as a
  JET heat map (red = high). Each map is stretched to its own min..max for
  display, since LANet maps often vary in a narrow band (the grid labels
  give the raw range);
- ``<stem>_grid.png``: the face and every map side by side, labelled;
- ``<stem>_maps.npz``: the raw maps at feature-map resolution (``lanet0``,
  ``lanet1``, ..., ``lanet_max``, ``cls_attention``, ``cls_attention_kept``,
  ``cls_self_attention``), the face (``face``, BGR uint8), ``block``,
  ``scores``, ``pred_label`` and ``pred_score``.

CHECKPOINT ``none`` draws an untrained model (its random initialisation,
without the config's pretrained files): useful to try the tool, and to see
what training changed. Checkpoints load safely (torch's weights-only
unpickler, see ``ferpretrain.utils.checkpoint``); ``--trust-checkpoint``
loads one that carries other Python objects.

Examples::

    # TransFER on RAF-DB (112x112 faces: 14x14 maps)
    python tools/visualization/vis_attention.py configs/transfer/raf.py \\
        work_dirs/raf/epoch_40.pth face1.jpg face2.jpg --out-dir vis/raf

    # The 48x48 CPU model (6x6 maps); `none` = untrained, for a quick try
    python tools/visualization/vis_attention.py \\
        configs/transfer/fer2013_cpu.py none face.png --out-dir vis/cpu
"""
import argparse
import logging
import os
import os.path as osp
import sys

# Allow running from a source checkout without installing ferpretrain. An
# installed copy, earlier on sys.path, still wins.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.append(_REPO_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import Compose, pseudo_collate  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from mmpretrain.apis import init_model  # noqa: E402
from mmpretrain.registry import TRANSFORMS  # noqa: E402

from ferpretrain.models.necks.pooling_vit import PoolingViT  # noqa: E402
from ferpretrain.models.utils.attention_dropping import LANet  # noqa: E402
from ferpretrain.utils import (UntrustedCheckpointError,  # noqa: E402
                               trust_checkpoint)

# The smallest side of a panel of the grid: 48-pixel faces are too small to
# read, and the labels need room.
MIN_PANEL = 160
LABEL_HEIGHT = 34


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Write TransFER's LANet attention maps and the ViT's CLS "
        'attention over input faces as images (and raw maps as .npz)')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or "none" for an untrained (randomly '
        'initialised) model, e.g. to try the tool')
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='face images (as the dataset gives them: the '
                        "config's test pipeline is applied)")
    parser.add_argument('--out-dir', required=True,
                        help='folder for the PNG and .npz files')
    parser.add_argument(
        '--block', type=int, default=-1,
        help='transformer block whose CLS attention is drawn; negative '
        'counts from the end (default -1: the last)')
    parser.add_argument('--device', default='cpu',
                        help='device to run on (default cpu)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='trust CHECKPOINT: load it with weights_only=False. This runs '
        'any code stored in the file; only for files you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy pairs as in '
        'tools/test.py')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# Model and pipeline
# ---------------------------------------------------------------------------
def _without_pretrained_init(node):
    """``node`` with every ``init_cfg`` of type Pretrained removed.

    An untrained model is built without the pretrained files of a config
    (``*_pretrained.py`` bases): they may not be there, and the point of
    ``none`` is the random initialisation.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            inits = value if isinstance(value, list) else [value]
            if key == 'init_cfg' and any(
                    isinstance(i, dict) and i.get('type') == 'Pretrained'
                    for i in inits):
                continue
            out[key] = _without_pretrained_init(value)
        return type(node)(out)
    if isinstance(node, (list, tuple)):
        return type(node)(_without_pretrained_init(v) for v in node)
    return node


def _init_weights_quietly(model):
    """``model.init_weights()`` without its log line per parameter (printed
    when there is no log file; it would bury the tool's output)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def load_model(cfg, checkpoint, device, trust=False):
    """The model in eval mode, with the checkpoint's weights (or none)."""
    untrained = checkpoint.lower() == 'none'
    if not untrained and not osp.isfile(checkpoint):
        raise SystemExit(f'ERROR: checkpoint file {checkpoint!r} not found '
                         f'(resolved to {osp.abspath(checkpoint)!r}). Give '
                         'a checkpoint file, or "none" for an untrained '
                         'model.')
    if untrained:
        cfg.model = _without_pretrained_init(cfg.model)
    # Built without weights; init_model would load them with strict=False,
    # and maps drawn by a half-random model (a checkpoint of another
    # config) would mislead without a word.
    model = init_model(cfg, None, device=device)
    if untrained:
        # What training starts from (truncated-normal position embeddings
        # and CLS token), not the zeros init_model leaves.
        _init_weights_quietly(model)
        return model.eval()
    if trust:
        print(f'Warning: --trust-checkpoint: {trust_checkpoint(checkpoint)} '
              'is loaded with weights_only=False: any code stored in it '
              'runs.')
    try:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu',
                               strict=True)
    except UntrustedCheckpointError as error:
        # The message says what to do; the traceback only hides it.
        raise SystemExit(f'ERROR: {error}') from None
    except RuntimeError as error:  # missing, unexpected or mis-sized keys
        detail = str(error).strip()
        detail = detail if len(detail) < 800 else detail[:800] + ' ...'
        raise SystemExit(
            f'ERROR: the checkpoint {checkpoint!r} does not fit the model '
            f'of the config:\n{detail}') from None
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    if 'dataset_meta' in meta:
        # As init_model does: the checkpoint's class names win over the
        # config's dataset.
        model._dataset_meta = meta['dataset_meta']
    return model.eval()


def build_test_pipeline(cfg):
    """The config's test pipeline, loading from ``img_path``."""
    dataset = cfg.test_dataloader.dataset
    # Through dataset wrappers (ClassBalancedDataset, ...) to the pipeline.
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    if 'pipeline' not in dataset:
        raise SystemExit('ERROR: the config\'s test_dataloader.dataset has '
                         'no pipeline to prepare the images with.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose([TRANSFORMS.build(t) for t in dataset.pipeline])


def prepare(pipeline, path):
    """The packed sample of one image and the face the model sees (BGR)."""
    try:
        data = pipeline(dict(img_path=path, sample_idx=0))
    except Exception as error:  # any transform: name the file, not a frame
        raise SystemExit(f'ERROR: {path}: the test pipeline failed: '
                         f'{type(error).__name__}: {error}') from None
    inputs = data['inputs']
    if inputs.ndim != 3:
        raise SystemExit(
            f'ERROR: {path}: the test pipeline gives inputs of shape '
            f'{tuple(inputs.shape)}, not one (C, H, W) image (multi-crop '
            'test pipelines are not supported).')
    # PackInputs keeps the loader's channel order (BGR for cv2 decoding);
    # the data preprocessor converts it for the model, not here.
    face = inputs.permute(1, 2, 0).numpy()
    face = np.clip(face, 0, 255).astype(np.uint8)
    if face.shape[2] == 1:
        face = np.repeat(face, 3, axis=2)
    return data, np.ascontiguousarray(face)


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------
class AttentionRecorder:
    """Forward hooks keeping the LANet maps and one block's CLS attention.

    Patch and token pooling (APViT) remove tokens before later blocks. The
    recorder follows which grid position every token came from: on each
    pooling module's output it runs that module's own ``forward`` on the
    token positions with the scores the module was given, so the same
    tokens are selected as by the model (``keep_topk_tokens``) without
    copying its logic here.
    """

    def __init__(self, model, block=-1):
        self.lanets = [m for m in model.modules() if isinstance(m, LANet)]
        vits = [m for m in model.modules() if isinstance(m, PoolingViT)]
        self.vit = vits[0] if vits else None
        self.block = None
        if self.vit is not None:
            num_blocks = len(self.vit.blocks)
            if not -num_blocks <= block < num_blocks:
                raise SystemExit(
                    f'ERROR: --block {block}: the ViT has {num_blocks} '
                    f'blocks (give -{num_blocks}..{num_blocks - 1}).')
            self.block = block % num_blocks
        self._handles = []
        self.reset()

    def reset(self):
        self.lanet_maps = [None] * len(self.lanets)
        self.cls_logits = None  # (B, heads, N) of the chosen block
        self.cls_positions = None  # (B, N - 1) grid index of each patch
        self.grid_shape = None  # (H, W) of the ViT's input map
        self._positions = None  # (B, n, 1) current patch tokens' positions

    def __enter__(self):
        for i, lanet in enumerate(self.lanets):
            self._hook(lanet, self._lanet_hook(i))
        if self.vit is not None:
            self._handles.append(
                self.vit.register_forward_pre_hook(self._vit_pre_hook))
            if self.vit.patch_pooling is not None:
                self._hook(self.vit.patch_pooling, self._patch_pooling_hook)
            for i, block in enumerate(self.vit.blocks):
                if i == self.block:
                    self._hook(block.attn, self._attn_hook)
                if block.token_pooling is not None:
                    self._hook(block.token_pooling,
                               self._token_pooling_hook)
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, module, hook):
        self._handles.append(
            module.register_forward_hook(hook, with_kwargs=True))

    def _lanet_hook(self, index):

        def hook(module, args, kwargs, output):
            self.lanet_maps[index] = output.detach().float().cpu()

        return hook

    def _vit_pre_hook(self, module, args):
        x = args[0][module.in_index]
        self.grid_shape = tuple(x.shape[-2:])
        positions = torch.arange(module.num_patches, device=x.device)
        self._positions = positions.expand(x.shape[0], -1)[..., None]

    def _patch_pooling_hook(self, module, args, kwargs, output):
        # forward(tokens, score_source): select positions by the same
        # scores (PoolingViT passes them positionally).
        scores = list(args[1:]) + list(kwargs.values())
        self._positions = module.forward(self._positions, *scores)

    def _token_pooling_hook(self, module, args, kwargs, output):
        # forward(tokens, cls_logits) keeps the CLS token first; give it a
        # placeholder position and drop it again.
        cls = torch.full_like(self._positions[:, :1], -1)
        with_cls = torch.cat([cls, self._positions], dim=1)
        scores = list(args[1:]) + list(kwargs.values())
        self._positions = module.forward(with_cls, *scores)[:, 1:]

    def _attn_hook(self, module, args, kwargs, output):
        self.cls_logits = output[1].detach().float().cpu()
        self.cls_positions = self._positions[..., 0].cpu()


def cls_attention_map(cls_logits, positions, grid_shape):
    """One sample's CLS attention on the patch grid.

    Args:
        cls_logits (Tensor): (heads, N) pre-softmax logits of the CLS row,
            CLS first.
        positions (Tensor): (N - 1, ) grid index of each patch token.
        grid_shape (tuple): (H, W) of the patch grid.

    Returns:
        tuple: the (H, W) map (patch weights summing to 1, 0 at removed
        patches), the (H, W) mask of kept patches and the CLS self-weight.
    """
    attn = cls_logits.softmax(dim=-1).mean(dim=0)  # (N, )
    patches = attn[1:]
    # Renormalised: the share of the patch attention each patch gets, so
    # maps of different blocks and models compare.
    patches = patches / patches.sum().clamp_min(1e-12)
    flat = torch.zeros(grid_shape[0] * grid_shape[1])
    flat[positions] = patches
    kept = torch.zeros_like(flat, dtype=torch.bool)
    kept[positions] = True
    return (flat.reshape(grid_shape).numpy(),
            kept.reshape(grid_shape).numpy(), float(attn[0]))


def collect_maps(recorder, index=0):
    """The raw maps of sample ``index`` as {name: (H, W) array}."""
    maps = {}
    lanet = [m[index, 0].numpy() for m in recorder.lanet_maps]
    for i, m in enumerate(lanet):
        maps[f'lanet{i}'] = m
    if lanet:
        # MAD's merge; nothing is dropped in eval mode.
        maps['lanet_max'] = np.max(np.stack(lanet), axis=0)
    extra = {}
    if recorder.cls_logits is not None:
        cls_map, kept, self_weight = cls_attention_map(
            recorder.cls_logits[index], recorder.cls_positions[index],
            recorder.grid_shape)
        maps['cls_attention'] = cls_map
        extra = dict(cls_attention_kept=kept,
                     cls_self_attention=np.float32(self_weight),
                     block=np.int64(recorder.block))
    return maps, extra


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------
def overlay(face, grid_map, alpha=0.5):
    """``grid_map`` upsampled bilinearly to the face, as a JET heat map."""
    h, w = face.shape[:2]
    up = cv2.resize(grid_map.astype(np.float32), (w, h),
                    interpolation=cv2.INTER_LINEAR)
    low, high = float(grid_map.min()), float(grid_map.max())
    # Each map stretched to its own range (bilinear values stay inside it);
    # a constant map is drawn as its lowest colour.
    up = (up - low) / (high - low) if high - low > 1e-12 else up * 0
    heat = cv2.applyColorMap(
        np.round(np.clip(up, 0, 1) * 255).astype(np.uint8),
        cv2.COLORMAP_JET)
    return cv2.addWeighted(face, 1 - alpha, heat, alpha, 0)


def labelled(panel, lines):
    """``panel`` under a white strip with up to two lines of text."""
    strip = np.full((LABEL_HEIGHT, panel.shape[1], 3), 255, np.uint8)
    for row, text in enumerate(lines[:2]):
        cv2.putText(strip, text, (4, 14 + 15 * row),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.vstack([strip, panel])


def draw_grid(face, maps, title):
    """The face and each map over it, side by side, with labels."""
    h, w = face.shape[:2]
    scale = max(1., MIN_PANEL / min(h, w))
    size = (int(round(w * scale)), int(round(h * scale)))
    big_face = cv2.resize(face, size, interpolation=cv2.INTER_CUBIC)
    panels = [labelled(big_face, ['face', title])]
    for name, grid_map in maps.items():
        rng = f'[{grid_map.min():.3g}, {grid_map.max():.3g}]'
        panels.append(labelled(overlay(big_face, grid_map), [name, rng]))
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    return np.hstack(row)


def write_image(path, img):
    if not cv2.imwrite(path, img):
        raise SystemExit(f'ERROR: could not write {path!r}.')
    return path


def unique_stem(path, used):
    """The file's stem, made unique among the images of this run."""
    stem = osp.splitext(osp.basename(path))[0]
    candidate, n = stem, 1
    while candidate in used:
        candidate, n = f'{stem}_{n}', n + 1
    used.add(candidate)
    return candidate


def describe_prediction(sample, classes):
    score = sample.pred_score.detach().float().cpu()
    label = int(sample.pred_label.item())
    name = classes[label] if classes and label < len(classes) \
        else f'class {label}'
    return label, float(score[label]), score.numpy(), name


def main(argv=None):
    args = parse_args(argv)
    # Before the model is built: a typo should not cost a model load.
    for path in args.images:
        if not osp.isfile(path):
            raise SystemExit(f'ERROR: image file {path!r} not found.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    model = load_model(cfg, args.checkpoint, args.device,
                       args.trust_checkpoint)
    pipeline = build_test_pipeline(cfg)
    recorder = AttentionRecorder(model, args.block)
    if not recorder.lanets and recorder.vit is None:
        raise SystemExit(
            f'ERROR: {args.config}: the model has no LANets and no '
            'PoolingViT neck: there is no attention map to draw.')
    if not recorder.lanets:
        print('Note: the model has no LANets (an APViT-style model): only '
              'the CLS attention is drawn.')
    if recorder.vit is None:
        print('Note: the model has no PoolingViT neck: no CLS attention '
              'is drawn.')
    classes = getattr(model, '_dataset_meta', {}).get('classes')

    os.makedirs(args.out_dir, exist_ok=True)
    used = set()
    for path in args.images:
        data, face = prepare(pipeline, path)
        recorder.reset()
        with torch.no_grad(), recorder:
            [sample] = model.test_step(pseudo_collate([data]))
        maps, extra = collect_maps(recorder)
        label, score, scores, name = describe_prediction(sample, classes)
        kept = extra.get('cls_attention_kept')
        if kept is not None and not kept.all():
            print(f'Note: {path}: patch/token pooling left '
                  f'{int(kept.sum())} of {kept.size} patches at block '
                  f'{recorder.block}; the removed ones are 0 in the CLS '
                  'attention map.')

        stem = unique_stem(path, used)
        written = []
        for key, grid_map in maps.items():
            written.append(write_image(
                osp.join(args.out_dir, f'{stem}_{key}.png'),
                overlay(face, grid_map)))
        written.append(write_image(
            osp.join(args.out_dir, f'{stem}_grid.png'),
            draw_grid(face, maps, f'{name} {score:.2f}')))
        npz = osp.join(args.out_dir, f'{stem}_maps.npz')
        np.savez(npz, face=face, scores=scores, pred_label=label,
                 pred_score=score, **maps, **extra)
        written.append(npz)

        print(f'{path}: predicted {name} ({score:.3f})')
        for out in written:
            print(f'  wrote {out}')


if __name__ == '__main__':
    from ferpretrain.utils.errors import run_tool
    run_tool(main)
