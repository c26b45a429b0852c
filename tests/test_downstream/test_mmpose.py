"""ferpretrain inside mmpose: a top-down landmark estimator on its face
CNNs (README: "Use in other OpenMMLab projects", the full mmcv).

mmpose's models import mmcv's compiled operators, which mmcv-lite (what
ferpretrain installs) leaves out: this test runs where the full mmcv is
built as the README says, and skips elsewhere, naming what is missing. The
README's config builds in mmpose's scope with ``mmpretrain.IResNet``, and
again with POSTER's landmark network ``mmpretrain.MobileFaceNet`` as the
backbone; each computes a heatmap loss, back-propagates and predicts 68
points per face.
"""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

try:
    import mmpose.models  # noqa: F401
except Exception as e:  # ImportError, or mmcv's ops failing to load
    pytest.skip(
        f'mmpose cannot be imported here ({type(e).__name__}: {e}); it '
        'needs the full mmcv with its compiled operators (README: "Use in '
        'other OpenMMLab projects")',
        allow_module_level=True)

from ferpretrain.models import IResNet, MobileFaceNet  # noqa: E402


def _build(cfg):
    from mmpose.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert DefaultScope.get_current_instance().scope_name == 'mmpose'
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('backbone', ['IResNet', 'MobileFaceNet'])
def test_topdown_landmarks_on_ferpretrain_backbones(readme_config, backbone,
                                                   train_then_predict):
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

    cfg = Config.fromfile(
        readme_config("type='TopdownPoseEstimator'", 'td-hm_faces.py'))
    if backbone == 'MobileFaceNet':
        # The alternative the README's comment gives: conv_4, 128x14x14.
        cfg.model.backbone = dict(
            type='mmpretrain.MobileFaceNet', out_indices=(2, ))
        cfg.model.head.in_channels = 128
    model = _build(cfg)
    expected = dict(IResNet=IResNet, MobileFaceNet=MobileFaceNet)[backbone]
    assert type(model.backbone) is expected

    torch.manual_seed(0)
    size, points = 112, cfg.model.head.out_channels
    heat = cfg.codec.heatmap_size
    faces = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
             for _ in range(2)]
    samples = []
    for _ in faces:
        sample = PoseDataSample(
            gt_fields=PixelData(heatmaps=torch.rand(points, *heat[::-1])),
            # The face box (the whole crop), which predictions carry on.
            gt_instances=InstanceData(
                bboxes=np.array([[0., 0., size, size]]),
                bbox_scores=np.ones(1)),
            gt_instance_labels=InstanceData(
                keypoint_weights=torch.ones(1, points)))
        # As mmpose's pipeline leaves them: arrays, the box at the crop.
        sample.set_metainfo(
            dict(input_size=np.array([size, size]),
                 input_center=np.array([size / 2, size / 2]),
                 input_scale=np.array([size, size], dtype=float),
                 img_shape=(size, size)))
        samples.append(sample)
    preds = train_then_predict(model, faces, samples, 'loss_kpt')
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.backbone.parameters())
    keypoints = preds[0].pred_instances.keypoints
    assert keypoints.shape == (1, points, 2)
    # Points whose heatmap peaks above zero lie on the face crop (mmpose
    # marks the others (-1, -1) in heatmap pixels).
    found = preds[0].pred_instances.keypoint_scores[0] > 0
    assert found.any()
    inside = keypoints[0][found]
    assert (inside >= 0).all() and (inside <= size).all()
