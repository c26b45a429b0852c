# Copyright (c) ferpretrain contributors. Licensed under Apache-2.0.
"""Draw TransFER's attention maps over input faces.

Usage::

    python tools/visualization/vis_attention.py CONFIG CHECKPOINT IMAGE
        [IMAGE ...] --out-dir DIR [--block -1] [--device cpu]
        [--trust-checkpoint] [--cfg-options KEY=VALUE ...]

Each image goes through the config's test pipeline (the input size and
normalisation the model was tested with) and the model in eval mode, while
``ferpretrain.analysis.AttentionRecorder`` keeps TransFER's LANet maps, their
merge by MAD (``lanet_max``: in eval mode, exactly the map the model used)
and the CLS attention of ViT block ``--block`` (default -1, the last),
averaged over the heads, on the patch grid. APViT models have no LANets;
the patches their pooling removed are 0 in the CLS map.

Written to ``--out-dir`` for each image ``<stem>.<ext>``:

- ``<stem>_lanet<i>.png``, ``<stem>_lanet_max.png``,
  ``<stem>_cls_attention.png``: each map over the face the model saw, as a
  JET heat map (red = high) stretched to the map's own range;
- ``<stem>_grid.png``: the face and every map side by side, labelled with
  each map's raw range;
- ``<stem>_maps.npz``: the raw maps at feature-map resolution, plus
  ``cls_attention_kept``, ``cls_self_attention``, ``face`` (BGR uint8),
  ``block``, ``scores``, ``pred_label`` and ``pred_score``.

CHECKPOINT loads strictly, with torch's weights-only unpickler
(``--trust-checkpoint`` for a file that carries other Python objects);
``none`` draws the untrained model (its random initialisation, without the
config's pretrained files), to try the tool or see what training changed.

Examples::

    # TransFER on RAF-DB (112x112 faces: 14x14 maps)
    python tools/visualization/vis_attention.py configs/transfer/raf.py \\
        work_dirs/raf/epoch_40.pth face1.jpg face2.jpg --out-dir vis/raf

    # The 48x48 CPU model (6x6 maps); `none` = untrained, for a quick try
    python tools/visualization/vis_attention.py \\
        configs/transfer/fer2013_cpu.py none face.png --out-dir vis/cpu
"""
import argparse
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
from mmengine.dataset import pseudo_collate  # noqa: E402

from ferpretrain.analysis import (AttentionRecorder,  # noqa: E402
                                  build_test_pipeline, draw_map_grid,
                                  load_model_for_analysis, load_test_image,
                                  model_classes, overlay_heatmap)
from ferpretrain.utils import (UntrustedCheckpointError,  # noqa: E402
                               register_all_modules, trust_checkpoint)
from ferpretrain.utils.errors import FERPretrainError, run_tool  # noqa: E402


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


def prepare(args):
    """The model, its test pipeline and the recorder; ``SystemExit`` with
    the message of a bad input."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        if args.trust_checkpoint and args.checkpoint.lower() != 'none':
            print(f'Warning: --trust-checkpoint: '
                  f'{trust_checkpoint(args.checkpoint)} is loaded with '
                  'weights_only=False: any code stored in it runs.')
        model = load_model_for_analysis(cfg, args.checkpoint, args.device)
        pipeline = build_test_pipeline(cfg)
    except (FERPretrainError, UntrustedCheckpointError) as error:
        # The message says what to do; the traceback only hides it.
        raise SystemExit(f'ERROR: {error}') from None
    try:
        recorder = AttentionRecorder(model, args.block)
    except ValueError as error:
        raise SystemExit(f'ERROR: --{error}') from None
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
    return model, pipeline, recorder


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    # Before the model is built: a typo should not cost a model load.
    for path in args.images:
        if not osp.isfile(path):
            raise SystemExit(f'ERROR: image file {path!r} not found.')
    model, pipeline, recorder = prepare(args)
    classes = model_classes(model)

    os.makedirs(args.out_dir, exist_ok=True)
    used = set()
    for path in args.images:
        try:
            data, face = load_test_image(pipeline, path)
        except FERPretrainError as error:
            raise SystemExit(f'ERROR: {error}') from None
        recorder.reset()
        with torch.no_grad(), recorder:
            [sample] = model.test_step(pseudo_collate([data]))
        maps, extra = recorder.maps()
        label = int(sample.pred_label.item())
        scores = sample.pred_score.detach().float().cpu()
        score = float(scores[label])
        name = classes[label] if classes and label < len(classes) \
            else f'class {label}'
        kept = extra.get('cls_attention_kept')
        if kept is not None and not kept.all():
            print(f'Note: {path}: patch/token pooling left '
                  f'{int(kept.sum())} of {kept.size} patches at block '
                  f'{recorder.block}; the removed ones are 0 in the CLS '
                  'attention map.')

        stem = unique_stem(path, used)
        written = [
            write_image(osp.join(args.out_dir, f'{stem}_{key}.png'),
                        overlay_heatmap(face, grid_map))
            for key, grid_map in maps.items()
        ]
        written.append(write_image(
            osp.join(args.out_dir, f'{stem}_grid.png'),
            draw_map_grid(face, maps, f'{name} {score:.2f}')))
        npz = osp.join(args.out_dir, f'{stem}_maps.npz')
        np.savez(npz, face=face, scores=scores.numpy(), pred_label=label,
                 pred_score=score, **maps, **extra)
        written.append(npz)

        print(f'{path}: predicted {name} ({score:.3f})')
        for out in written:
            print(f'  wrote {out}')


if __name__ == '__main__':
    run_tool(main)
