"""Reading third-party files, checking coverage, converter class orders."""
import os
import pickle

import numpy as np
import pytest
import torch

from ferpretrain.datasets.categories import (AFFECTNET_CODES,
                                             RAFDB_CATEGORIES)
from ferpretrain.utils.checkpoint import (UntrustedCheckpointError,
                                          load_checkpoint_file)
from ferpretrain.utils.conversion import Release, resolve_classes
from ferpretrain.utils.errors import CheckpointError, ConfigError
from ferpretrain.utils.foreign_checkpoint import (OpaquePickledObject,
                                                  extract_state_dict,
                                                  read_paddle_params,
                                                  read_torch_release)
from ferpretrain.utils.load_check import (compare_state_dict,
                                          describe_mismatch)


class _Evil:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_paddle_params_read_without_running_code(tmp_path):
    marker = tmp_path / 'pwned'
    params = {
        'head.fc.weight': np.arange(6, dtype=np.float32).reshape(3, 2),
        'evil': _Evil(marker),
        'StructuredToParameterName@@': {'head.fc.weight': 'linear_0.w_0'},
    }
    path = tmp_path / 'model.pdparams'
    with open(path, 'wb') as f:
        pickle.dump(params, f, protocol=4)
    read, names = read_paddle_params(path)
    assert not marker.exists()
    assert names == {'head.fc.weight': 'linear_0.w_0'}
    np.testing.assert_array_equal(read['head.fc.weight'],
                                  params['head.fc.weight'])
    assert isinstance(read['evil'], OpaquePickledObject)
    assert read['evil'].args == (f'touch {marker}', )


def test_paddle_big_params_are_joined(tmp_path):
    # paddle.save with protocol 2/3 splits large arrays into slices.
    big = np.arange(10, dtype=np.float32).reshape(2, 5)
    params = {
        'w@@.0': big.reshape(-1)[:6],
        'w@@.1': big.reshape(-1)[6:],
        'UnpackBigParamInfor@@': {
            'w': {'OriginShape': (2, 5), 'slices': ['w@@.0', 'w@@.1']}
        },
    }
    path = tmp_path / 'big.pdparams'
    with open(path, 'wb') as f:
        pickle.dump(params, f, protocol=2)
    read, _ = read_paddle_params(path)
    assert list(read) == ['w']
    np.testing.assert_array_equal(read['w'], big)


@pytest.mark.parametrize('content,says', [
    (b'', 'is empty'),
    (b'<html>not found</html>', 'not a checkpoint at all'),
    (b'\xff\xd8\xff\xe0JFIF', 'not a checkpoint at all'),
])
def test_unreadable_files_say_what_they_are(tmp_path, content, says):
    path = tmp_path / 'model.pth'
    path.write_bytes(content)
    for reader in (read_torch_release, read_paddle_params,
                   load_checkpoint_file):
        with pytest.raises(CheckpointError, match=says) as error:
            reader(path)
        # Not mistaken for unsafe code: no advice to trust it.
        assert '--trust-checkpoint' not in str(error.value)


def test_truncated_checkpoint_is_called_truncated(tmp_path):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.zeros(4096)}}, good)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(good.read_bytes()[:4000])
    with pytest.raises(CheckpointError, match='truncated or damaged'):
        load_checkpoint_file(cut)
    # A pickled foreign object is still refused as untrusted.
    evil = tmp_path / 'evil.pth'
    torch.save({'x': _Evil(tmp_path / 'pwned')}, evil)
    with pytest.raises(UntrustedCheckpointError, match='system'):
        load_checkpoint_file(evil)


def test_extract_state_dict_says_what_the_file_holds():
    with pytest.raises(CheckpointError, match=r"keys \['epoch'\]"):
        extract_state_dict({'epoch': 3})
    opaque = type('Net', (OpaquePickledObject, ),
                  {'pickled_global': 'models.Net'})()
    with pytest.raises(CheckpointError, match='torch.save\\(model\\)'):
        extract_state_dict(opaque)


def test_mismatch_message_names_keys_and_cause():
    model = {'head.fc.weight': torch.zeros(7, 4), 'neck.x': torch.zeros(1)}
    given = {'head.fc.weight': torch.zeros(8, 4), 'neck.x': torch.zeros(1)}
    report = compare_state_dict(model, given)
    assert report.head_only() and not report.complete
    message = describe_mismatch(report, 'a.pth', list(given), list(model))
    assert 'head.fc.weight: [8, 4] in the file, [7, 4] in the model' in \
        message
    assert 'model.head.num_classes=8' in message
    official = {'module.VIT.head.linear.weight': torch.zeros(7, 4)}
    report = compare_state_dict(model, official)
    assert 'posterv2_to_ferpretrain.py' in describe_mismatch(
        report, 'b.pth', list(official), list(model))
    poster = {'neck.layers.0.blocks.0.x': torch.zeros(1)}
    apvit = {'neck.patch_pos_embed': torch.zeros(1)}
    report = compare_state_dict(apvit, poster)
    assert 'holds a POSTER model, the config builds APViT' in \
        describe_mismatch(report, 'c.pth', list(poster), list(apvit))


RELEASES = (
    Release('rafdb', 'RAF-DB', RAFDB_CATEGORIES, 'a.py'),
    Release('affectnet7', 'AffectNet-7', AFFECTNET_CODES[:7], 'b.py'),
    Release('affectnet8', 'AffectNet-8', AFFECTNET_CODES[:8], 'c.py'),
)


def test_resolve_classes():
    assert resolve_classes(8, RELEASES)[1].name == 'affectnet8'
    with pytest.raises(ConfigError, match='cannot be read from the file'):
        resolve_classes(7, RELEASES)
    classes, release = resolve_classes(7, RELEASES, dataset='affectnet7')
    assert classes == AFFECTNET_CODES[:7] and release.name == 'affectnet7'
    with pytest.raises(ConfigError, match='has 7 classes, but this file'):
        resolve_classes(8, RELEASES, dataset='rafdb')
    assert resolve_classes(2, RELEASES, classes='a, b') == (('a', 'b'),
                                                            None)
    with pytest.raises(ConfigError, match='names 2 classes'):
        resolve_classes(3, RELEASES, classes='a,b')
    with pytest.raises(ConfigError, match='no .* release has 5'):
        resolve_classes(5, RELEASES)
