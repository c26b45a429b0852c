"""Fixtures of the inferencer and demo tests: a small model's checkpoint in
the two formats ferpretrain writes, real and synthetic faces, a video.

The model is ``configs/apvit/demo_cpu.py`` (APViT reduced for a CPU, 64x64
input) with random weights; its classifier weights are drawn large, so
that the class probabilities differ clearly between faces and a change in
the input (a channel swap) shows in them.
"""
import os.path as osp
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'apvit', 'demo_cpu.py')
DOE_CONFIG = osp.join(REPO, 'configs', 'doe', 'demo_pairs_cpu.py')
#: The config's (RAF-DB's) classes, reversed: a checkpoint's class names
#: must win over the config's, in the checkpoint's order.
CHECKPOINT_CLASSES = ('Neutral', 'Anger', 'Sadness', 'Happiness', 'Disgust',
                      'Fear', 'Surprise')

sys.path.insert(0, osp.join(REPO, 'tests', 'test_tools'))
from tool_helpers import load_tool  # noqa: E402

# The real-face fixtures live with the face alignment tests.
faces = load_tool(
    osp.join(REPO, 'tests', 'test_utils', 'test_face_alignment.py'),
    'face_alignment_fixtures')


def build_model(config=CONFIG, seed=0):
    """The config's model with random weights (no pretrained files)."""
    from mmpretrain.registry import MODELS

    from ferpretrain.analysis.inspection import without_pretrained_init
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    model_cfg = without_pretrained_init(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    fc = getattr(model.head, 'fc', None)
    if isinstance(fc, torch.nn.Linear):
        torch.nn.init.normal_(fc.weight, std=1.0)
        torch.nn.init.normal_(fc.bias, std=0.5)
    else:  # an MLP head: layers that amplify rather than shrink
        for layer in model.head.modules():
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.normal_(
                    layer.weight, std=4 / layer.in_features**0.5)
    return model.eval()


def write_checkpoint(path, model, classes=CHECKPOINT_CLASSES,
                     training=False):
    """``model``'s weights as a converter writes them (``state_dict`` and
    ``meta.dataset_meta.classes``), or, ``training=True``, as mmengine's
    Runner does (with a message hub of HistoryBuffers and an optimizer).
    ``classes=None`` writes no class names."""
    meta = {} if classes is None else dict(
        dataset_meta=dict(classes=list(classes)))
    checkpoint = dict(state_dict=model.state_dict(), meta=meta)
    if training:
        from mmengine.logging import HistoryBuffer
        buffer = HistoryBuffer()
        buffer.update(0.5)
        meta.update(epoch=3, iter=30, seed=0)
        checkpoint.update(
            message_hub=dict(log_scalars={'train/loss': buffer}),
            optimizer=dict(state={}, param_groups=[dict(lr=1e-3)]))
    torch.save(checkpoint, str(path))
    return str(path)


def tiny_pair_config():
    """``configs/doe/demo_pairs_cpu.py`` with a small ResNet encoder: the
    same pairs, preprocessor, difference and head design, but an encoder
    whose random initialisation keeps the faces apart (MobileNetV3's
    shrinks every embedding to about 1e-9 before training)."""
    cfg = Config.fromfile(DOE_CONFIG)
    cfg.model.backbone = dict(
        type='ResNet', depth=18, stem_channels=8, base_channels=8,
        out_indices=(3, ))
    cfg.model.head.in_channels = 2 * 64
    return cfg


def face_image(gray=False):
    """The astronaut's head, 256x256 BGR (one real face, about 90 px)."""
    return faces.face_image(gray=gray)


def side_by_side(image):
    """``image`` twice, side by side: two faces of the same size."""
    return np.ascontiguousarray(np.concatenate([image, image], axis=1))


def synthetic_faces(count, size=64, seed=0):
    """Aligned synthetic faces (``draw_face``), BGR uint8."""
    from ferpretrain.datasets import EXPRESSIONS, draw_face
    rng = np.random.default_rng(seed)
    return [
        draw_face(EXPRESSIONS[i % len(EXPRESSIONS)], rng, size=size)
        for i in range(count)
    ]


def write_video(path, frames, fps=10.0, fourcc='mp4v'):
    """``frames`` (BGR, one size) as a video file; returns the path."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f'OpenCV cannot write {fourcc} here'
    for frame in frames:
        writer.write(frame)
    writer.release()
    return str(path)


def video_frames(count=6, every=2):
    """The astronaut's head, with a blank frame every ``every`` frames
    (frames 0, every, 2 * every ... have no face)."""
    face = face_image()
    blank = np.full_like(face, 90)
    return [blank if i % every == 0 else face for i in range(count)]
