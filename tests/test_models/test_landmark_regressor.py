"""LandmarkRegressor, the LandmarkNME metric, the landmark config (run
through tools/train.py and tools/test.py on a tiny synthetic CSV), and the
hand-over of a trained checkpoint to a frozen MobileFaceNet."""
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from ferpretrain.evaluation import LandmarkNME, landmark_nme
from ferpretrain.models import LandmarkRegressor, MobileFaceNet
from ferpretrain.registry import METRICS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'landmarks', 'mobilefacenet_fer2013_64.py')
sys.path.insert(0, osp.join(REPO, 'tests', 'test_tools'))
from tool_helpers import TEST_PY, TRAIN_PY, explain, run_python  # noqa: E402


def _model(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='LandmarkRegressor',
            backbone=dict(
                type='MobileFaceNet', with_landmark_head=True, input_size=64),
            data_preprocessor=dict(
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                to_rgb=True),
            **kwargs))
    model.init_weights()
    return model


def _samples(points):
    samples = []
    for i, p in enumerate(points):
        sample = DataSample(metainfo=dict(img_path=f'{i}.png'))
        sample.set_field(p.numpy(), 'gt_landmarks')  # as PackInputs does
        samples.append(sample)
    return samples


@pytest.fixture(scope='module')
def batch():
    torch.manual_seed(1)
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    points = torch.rand(4, 68, 2) * 0.6 + 0.2
    return images, points


def test_modes_and_shapes(batch):
    images, points = batch
    model = _model().eval()
    data = model.data_preprocessor(dict(inputs=list(images)))
    assert model(data['inputs']).shape == (4, 136)
    assert model(data['inputs'], mode='tensor').shape == (4, 136)
    preds = model(data['inputs'], _samples(points), mode='predict')
    assert len(preds) == 4
    assert preds[0].pred_landmarks.shape == (68, 2)
    assert preds[0].img_path == '0.png'
    # Without data samples (inference), new ones are made.
    preds = model.test_step(dict(inputs=list(images)))
    assert len(preds) == 4 and preds[3].pred_landmarks.shape == (68, 2)
    # predict_landmarks of the backbone is the same (B, 68, 2) reshaping.
    with torch.no_grad():
        torch.testing.assert_close(
            model.backbone.predict_landmarks(data['inputs']),
            model(data['inputs']).view(-1, 68, 2))
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(data['inputs'], mode='features')


def test_loss_decreases_on_a_tiny_batch(batch):
    images, points = batch
    model = _model().train()
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        data = model.data_preprocessor(
            dict(inputs=list(images), data_samples=_samples(points)), True)
        loss = model(**data, mode='loss')['loss']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_loss_types_and_value(batch):
    images, points = batch
    model = _model(loss_type='l1').eval()
    data = model.data_preprocessor(dict(inputs=list(images)))
    with torch.no_grad():
        pred = model(data['inputs'])
        loss = model(data['inputs'], _samples(points), mode='loss')['loss']
    torch.testing.assert_close(loss, (pred - points.flatten(1)).abs().mean())
    with pytest.raises(ValueError, match='loss_type'):
        _model(loss_type='wing')
    with pytest.raises(ValueError, match='loss_beta'):
        _model(loss_beta=0)


def test_loss_errors_are_explained(batch):
    images, points = batch
    model = _model().eval()
    inputs = model.data_preprocessor(dict(inputs=list(images)))['inputs']
    no_gt = [DataSample(metainfo=dict(img_path='x.png')) for _ in range(4)]
    with pytest.raises(KeyError, match=r"x.png.*algorithm_keys"):
        model(inputs, no_gt, mode='loss')
    wrong = _samples(torch.rand(4, 5, 2))
    with pytest.raises(ValueError, match=r'0.png have shape \(5, 2\)'):
        model(inputs, wrong, mode='loss')
    with pytest.raises(ValueError, match='one data sample'):
        model(inputs, None, mode='loss')


def test_backbone_without_head_is_refused():
    with pytest.raises(ValueError, match='with_landmark_head=True'):
        LandmarkRegressor(backbone=dict(type='MobileFaceNet'))


# ----------------------------------------------------------------------
# The metric.
def test_nme_matches_a_hand_computation():
    gt = np.zeros((68, 2))
    gt[36] = (0.2, 0.4)
    gt[45] = (0.8, 0.4)  # inter-ocular 0.6 of the width
    pred = gt.copy()
    pred[0] += (0.03, 0.04)  # one point off by 0.05
    # Fractions of a square 100 px image: 5 px / 68 points / 60 px.
    expected = 100 * (5 / 68) / 60
    assert landmark_nme(pred, gt, (100, 100)) == pytest.approx(expected)
    assert landmark_nme(pred, gt) == pytest.approx(expected)  # square
    # A 200 x 100 (w x h) image: error (6, 4) px, eyes 120 px apart.
    wide = 100 * (np.hypot(6, 4) / 68) / 120
    assert landmark_nme(pred, gt, (200, 100)) == pytest.approx(wide)
    with pytest.raises(ValueError, match='coincide'):
        landmark_nme(pred, np.zeros((68, 2)))


def test_landmark_nme_metric():
    gt = np.random.default_rng(0).uniform(0.2, 0.8, (3, 68, 2))
    gt[:, 36], gt[:, 45] = (0.3, 0.4), (0.7, 0.4)  # eyes 0.4 apart
    offsets = (0.01, 0.02, 0.05)  # NME 2.5, 5, 12.5 %
    metric = METRICS.build(dict(type='LandmarkNME'))
    metric.dataset_meta = {}
    samples = []
    for i, (g, off) in enumerate(zip(gt, offsets)):
        samples.append(
            dict(
                img_path=f'{i}.png',
                ori_shape=(48, 48),
                img_shape=(64, 64),
                box_source='fallback' if i == 2 else 'detected',
                gt_landmarks=g.astype(np.float32),
                pred_landmarks=torch.from_numpy(g + (off, 0)).float()))
    metric.process({}, samples)
    out = metric.evaluate(3)
    assert out['landmark/nme'] == pytest.approx((2.5 + 5 + 12.5) / 3,
                                                rel=1e-4)
    assert out['landmark/failure_rate_10'] == pytest.approx(100 / 3)
    assert out['landmark/nme_detected'] == pytest.approx(3.75, rel=1e-4)
    assert out['landmark/nme_fallback'] == pytest.approx(12.5, rel=1e-4)

    # Distances in pixels of the labelled image (ori_shape): on a 2:1
    # image a horizontal error weighs twice as much against vertical eyes.
    metric = LandmarkNME(failure_threshold=6)
    g = gt[0].copy()
    g[36], g[45] = (0.5, 0.3), (0.5, 0.7)  # eyes above each other
    metric.process({}, [
        dict(ori_shape=(100, 200), gt_landmarks=g,
             pred_landmarks=torch.from_numpy(g + (0.01, 0)).float())
    ])
    out = metric.evaluate(1)
    assert out['landmark/nme'] == pytest.approx(100 * 2 / 40, rel=1e-4)
    assert out['landmark/failure_rate_6'] == 0

    with pytest.raises(KeyError, match='no pred_landmarks for a.png'):
        LandmarkNME().process({}, [dict(img_path='a.png', gt_landmarks=g)])
    with pytest.raises(ValueError, match='a.png.*coincide'):
        LandmarkNME().process({}, [
            dict(img_path='a.png', gt_landmarks=np.zeros((68, 2)),
                 pred_landmarks=np.zeros((68, 2)))
        ])


# ----------------------------------------------------------------------
# The config, and the hand-over to POSTER's frozen branch.
def test_config_uses_the_fer_normalisation():
    cfg = Config.fromfile(CONFIG)
    fer = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets', 'fer_112.py'))
    expected = dict(fer.data_preprocessor)
    expected.pop('num_classes')  # a classification setting
    assert dict(cfg.data_preprocessor) == expected
    assert cfg.model.backbone.input_size == 64
    assert cfg.train_dataloader.num_workers == 1


def _write_fixture(root, n=8):
    """``root/{train,test}/x/*.png`` and the two CSVs (random points)."""
    import cv2
    rng = np.random.default_rng(0)
    header = ['img_path', 'box_source'] + [
        f'{a}{i}' for i in range(68) for a in 'xy'
    ]
    for split in ('train', 'test'):
        lines = [','.join(header)]
        for i in range(n):
            rel = f'{split}/x/{i}.png'
            os.makedirs(osp.dirname(osp.join(root, rel)), exist_ok=True)
            cv2.imwrite(
                osp.join(root, rel),
                rng.integers(0, 256, (48, 48), dtype=np.uint8))
            points = rng.uniform(0.2, 0.8, 136)
            lines.append(','.join([rel, 'detected'] +
                                  [f'{v:.5f}' for v in points]))
        with open(osp.join(root, f'{split}_landmarks.csv'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def test_config_trains_and_tests_through_the_tools(tmp_path):
    data = tmp_path / 'fer'
    _write_fixture(str(data))
    work_dir = tmp_path / 'work'
    options = [
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'
    ]
    proc = run_python(
        TRAIN_PY, CONFIG, '--work-dir', work_dir, '--cfg-options', *options,
        cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert 'Epoch(train) [1][2/2]' in proc.stdout, explain(proc)
    assert 'landmark/nme' in proc.stdout, explain(proc)
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.exists()

    proc = run_python(
        TEST_PY, CONFIG, ckpt, '--work-dir', tmp_path / 'test_wd',
        '--cfg-options', *options, cwd=tmp_path)
    assert proc.returncode == 0, explain(proc)
    assert 'landmark/nme' in proc.stdout and \
        'landmark/failure_rate_10' in proc.stdout, explain(proc)

    # POSTER's frozen landmark branch loads the trained backbone: the
    # features need no head and work at other input sizes.
    branch = MobileFaceNet(
        out_indices=(1, 2, 4),
        frozen=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    branch.init_weights()
    trained = torch.load(str(ckpt), map_location='cpu',
                         weights_only=False)['state_dict']
    for name, value in branch.state_dict().items():
        torch.testing.assert_close(value, trained['backbone.' + name])
    assert [f.shape[-1] for f in branch(torch.randn(1, 3, 112, 112))
            ] == [28, 14, 7]
