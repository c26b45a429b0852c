"""ferpretrain inside another OpenMMLab project: mmaction2.

A user of mmaction2 (installed with ``pip install -e ".[mmaction]"``) puts
ferpretrain's face CNN into a video recognizer from mmaction2's own config,
with ``custom_imports`` and the cross-scope type name, and trains it: the
model builds in mmaction2's default scope, computes a loss on a random clip,
back-propagates into the ferpretrain backbone and predicts.
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

try:
    import mmaction  # noqa: F401
except ImportError:
    pytest.skip(
        'mmaction2 is not installed; pip install -e ".[mmaction]" installs '
        'the version that works next to ferpretrain (README: "Use in other '
        'OpenMMLab projects")',
        allow_module_level=True)


@pytest.fixture
def recognizer(readme_config):
    # What the user writes: mmaction2's Recognizer2D (TSN) with
    # ferpretrain's IR-50 as the frame backbone, the README's example.
    cfg = Config.fromfile(  # imports ferpretrain.plugin
        readme_config("type='Recognizer2D'", 'tsn_iresnet_faces.py'))
    from mmaction.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert DefaultScope.get_current_instance().scope_name == 'mmaction'
        model = MODELS.build(cfg.model)
    return model


def test_recognizer2d_trains_and_predicts_with_ferpretrain_iresnet(
        recognizer, train_then_predict):
    from mmaction.structures import ActionDataSample

    from ferpretrain.models import IResNet

    assert type(recognizer.backbone) is IResNet
    assert recognizer.backbone_from == 'mmpretrain'
    torch.manual_seed(0)
    # Two clips of 3 frames (segments), 112x112 faces.
    clips = [
        torch.randint(0, 256, (3, 3, 112, 112), dtype=torch.uint8)
        for _ in range(2)
    ]
    samples = [ActionDataSample().set_gt_labels(i) for i in (0, 3)]
    data = recognizer.data_preprocessor(
        dict(inputs=clips, data_samples=samples))
    assert data['inputs'].shape == (2, 3, 3, 112, 112)
    preds = train_then_predict(recognizer, clips, samples, 'loss_cls')
    grad = recognizer.backbone.input_layer[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    scores = preds[0].pred_scores.item
    assert scores.shape == (7, )
    torch.testing.assert_close(scores.sum(), torch.tensor(1.))
