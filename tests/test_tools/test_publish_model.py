"""tools/model_converters/publish_model.py: a training checkpoint becomes
the file to share (weights and class names), checked strictly."""
import os.path as osp
import sys

import pytest
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'test_apis'))
from inferencer_helpers import (CHECKPOINT_CLASSES, CONFIG,  # noqa: E402
                                build_model, write_checkpoint)
from tool_helpers import REPO_ROOT, load_tool  # noqa: E402

from ferpretrain.utils.errors import run_tool  # noqa: E402

publish = load_tool(
    osp.join(REPO_ROOT, 'tools', 'model_converters', 'publish_model.py'),
    'publish_model_tool')


def _training_checkpoint(path, model):
    """As tools/train.py saves one with an EMAHook: the optimizer's state,
    the message hub and the average's own copy besides the weights."""
    write_checkpoint(path, model, training=True)
    checkpoint = torch.load(str(path), weights_only=False)
    checkpoint['ema_state_dict'] = {
        f'module.{k}': v.clone() for k, v in model.state_dict().items()
    }
    checkpoint['optimizer']['state'] = {
        i: dict(exp_avg=torch.zeros_like(p))
        for i, p in enumerate(model.parameters())
    }
    torch.save(checkpoint, str(path))
    return str(path)


def test_publishes_weights_and_classes_only(tmp_path, capsys):
    model = build_model()
    src = _training_checkpoint(tmp_path / 'epoch_3.pth', model)
    dst = str(tmp_path / 'out' / 'demo_{sha}.pth')
    assert publish.main([src, dst, '--config', CONFIG]) == 0
    printed = capsys.readouterr().out
    (written, ) = [w for w in (tmp_path / 'out').iterdir()]
    sha = written.name[len('demo_'):-len('.pth')]
    assert len(sha) == 8 and sha in printed
    published = torch.load(str(written), weights_only=True)
    assert set(published) == {'state_dict', 'meta'}
    assert published['meta']['dataset_meta']['classes'] == list(
        CHECKPOINT_CLASSES)
    assert published['meta']['config'] == CONFIG
    assert published['meta']['epoch'] == 3
    for key, value in model.state_dict().items():
        assert torch.equal(published['state_dict'][key], value), key
    assert osp.getsize(written) < osp.getsize(src) / 2
    # It runs as it is.
    from ferpretrain.apis import FERInferencer
    assert FERInferencer(CONFIG, str(written)).classes == CHECKPOINT_CLASSES


def test_refuses_what_it_cannot_publish(tmp_path, capsys):
    model = build_model()
    bare = write_checkpoint(tmp_path / 'bare.pth', model, classes=None)
    argv = [bare, str(tmp_path / 'o.pth'), '--config', CONFIG]
    with pytest.raises(SystemExit) as exit_info:
        run_tool(lambda: publish.main(argv), argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and 'Traceback' not in err
    assert 'meta.dataset_meta.classes is missing' in err
    other = str(tmp_path / 'other.pth')
    state = dict(model.state_dict())
    del state['head.fc.bias']
    torch.save(dict(state_dict=state,
                    meta=dict(dataset_meta=dict(classes=['a'] * 7))), other)
    argv = [other, str(tmp_path / 'o.pth'), '--config', CONFIG]
    with pytest.raises(SystemExit):
        run_tool(lambda: publish.main(argv), argv)
    err = capsys.readouterr().err
    assert 'head.fc.bias' in err and 'Nothing was written' in err
    assert not (tmp_path / 'o.pth').exists()
