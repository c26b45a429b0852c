"""ferpretrain.evaluation.cross_dataset_config: a test config rewritten for
cross-dataset evaluation (what tools/test.py's --test-data, --model-classes,
--class-map and --no-class-matching do)."""
import argparse

import pytest
import torch
from mmengine.config import Config

from ferpretrain.datasets import RAFDB
from ferpretrain.evaluation.cross_dataset_config import (
    add_cross_dataset_arguments, check_cross_dataset_args,
    enable_class_matching, parse_class_map, read_model_classes,
    use_class_matching, use_test_data)
from ferpretrain.utils.errors import ConfigError

MODEL_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize')]
DATA_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='CropFaceBox')]


def _model_cfg(wrapped=False):
    dataset = dict(type='RAFDB', pipeline=MODEL_PIPELINE)
    if wrapped:
        dataset = dict(type='ClassBalancedDataset', dataset=dataset)
    return Config(
        dict(
            default_scope='mmpretrain',
            test_dataloader=dict(batch_size=8, dataset=dataset),
            test_evaluator=[dict(type='Accuracy')]))


def _data_file(tmp_path, evaluator=True, wrapped=False):
    dataset = dict(type='JAFFE', data_root='data/jaffe',
                   pipeline=DATA_PIPELINE)
    if wrapped:
        dataset = dict(type='RepeatDataset', times=2, dataset=dataset)
    data = dict(test_dataloader=dict(batch_size=4, dataset=dataset))
    if evaluator:
        data['test_evaluator'] = dict(type='FERMetric')
    path = tmp_path / f'data_{evaluator}_{wrapped}.py'
    Config(data).dump(str(path))
    return str(path)


@pytest.mark.parametrize('wrapped', [False, True])
def test_test_data_keeps_the_model_pipeline(tmp_path, wrapped):
    cfg = _model_cfg(wrapped)
    use_test_data(cfg, _data_file(tmp_path, wrapped=wrapped))
    dataset = cfg.test_dataloader.dataset
    inner = dataset.dataset if wrapped else dataset
    assert inner.type == 'JAFFE' and inner.data_root == 'data/jaffe'
    assert inner.pipeline == MODEL_PIPELINE
    assert cfg.test_dataloader.batch_size == 4
    assert cfg.test_evaluator == dict(type='FERMetric')

    cfg = _model_cfg(wrapped)
    use_test_data(cfg, _data_file(tmp_path, wrapped=wrapped),
                  data_pipeline=True)
    inner = cfg.test_dataloader.dataset
    inner = inner.dataset if wrapped else inner
    assert inner.pipeline == DATA_PIPELINE


def test_test_data_without_evaluator_keeps_the_configs(tmp_path):
    cfg = _model_cfg()
    use_test_data(cfg, _data_file(tmp_path, evaluator=False))
    assert cfg.test_evaluator == [dict(type='Accuracy')]


def test_test_data_needs_a_test_dataloader(tmp_path):
    path = tmp_path / 'model_only.py'
    Config(dict(model=dict(type='X'))).dump(str(path))
    with pytest.raises(ConfigError, match='defines no test_dataloader'):
        use_test_data(_model_cfg(), str(path))


def test_model_classes_by_name_or_dataset_type(tmp_path):
    assert read_model_classes(' happy, sad ,neutral', 'unused.pth') == [
        'happy', 'sad', 'neutral'
    ]
    assert read_model_classes('RAFDB', 'unused.pth') == list(
        RAFDB.METAINFO['classes'])
    with pytest.raises(ConfigError, match='--model-classes Happy: not a'):
        read_model_classes('Happy', 'unused.pth')


def test_model_classes_from_the_checkpoint(tmp_path):
    named = tmp_path / 'named.pth'
    torch.save(
        dict(state_dict={},
             meta=dict(dataset_meta=dict(classes=('a', 'b')))), named)
    assert read_model_classes(None, str(named)) == ['a', 'b']
    for i, meta in enumerate((None, dict(), dict(dataset_meta=None))):
        bare = tmp_path / f'bare{i}.pth'
        torch.save(dict(state_dict={}, meta=meta), bare)
        assert read_model_classes(None, str(bare)) is None


def test_class_matching_wraps_dataset_and_metrics():
    cfg = _model_cfg()
    enable_class_matching(cfg, ('happy', 'sad'), {'contempt': 'disgust'})
    dataset = cfg.test_dataloader.dataset
    assert dataset.type == 'ClassSubsetDataset'
    assert dataset.dataset.type == 'RAFDB'
    assert dataset.model_classes == ['happy', 'sad']
    assert dataset.class_map == {'contempt': 'disgust'}
    assert cfg.test_evaluator == dict(
        type='CrossDatasetEvaluator', metrics=[dict(type='Accuracy')],
        model_classes=['happy', 'sad'], class_map={'contempt': 'disgust'})

    # An Evaluator config contributes its metrics.
    cfg = _model_cfg()
    cfg.test_evaluator = dict(type='Evaluator', metrics=[dict(type='A')])
    enable_class_matching(cfg, ['x'], {})
    assert cfg.test_evaluator.metrics == [dict(type='A')]


def test_use_class_matching(tmp_path):
    cfg = _model_cfg()
    assert use_class_matching(cfg, 'unused.pth', 'happy,sad') == [
        'happy', 'sad'
    ]
    assert cfg.test_evaluator.type == 'CrossDatasetEvaluator'
    assert cfg.test_evaluator.class_map == {}

    bare = tmp_path / 'bare.pth'
    torch.save(dict(state_dict={}), bare)
    # The model's own test data: indices are compared as they are.
    cfg = _model_cfg()
    assert use_class_matching(cfg, str(bare)) is None
    assert cfg.test_dataloader.dataset.type == 'RAFDB'
    for kwargs in (dict(required=True), dict(class_map={'a': 'b'})):
        with pytest.raises(ConfigError) as refused:
            use_class_matching(_model_cfg(), str(bare), **kwargs)
        assert str(refused.value) == (
            f'{bare} carries no class names (meta.dataset_meta.classes), so '
            'the classes of the model cannot be matched with the test set '
            'by name; give them with --model-classes (e.g. --model-classes '
            'FER2013).')


def test_class_map():
    assert parse_class_map(None) == {}
    assert parse_class_map(['contempt=disgust', 'Neutral=calm']) == {
        'contempt': 'disgust',
        'Neutral': 'calm'
    }
    for bad in ('contempt', '=disgust', 'contempt='):
        with pytest.raises(ValueError, match=f'{bad!r} is not TEST=MODEL'):
            parse_class_map([bad])


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_cross_dataset_arguments(parser)
    args = parser.parse_args(argv)
    check_cross_dataset_args(parser, args)
    return args


def test_cross_dataset_arguments(capsys):
    args = _parse([
        '--test-data', 'jaffe.py', '--test-data-pipeline', '--model-classes',
        'FER2013', '--class-map', 'contempt=disgust'
    ])
    assert (args.test_data, args.test_data_pipeline) == ('jaffe.py', True)
    assert args.model_classes == 'FER2013'
    assert args.class_map == {'contempt': 'disgust'}
    args = _parse([])
    assert args.class_map == {} and args.no_class_matching is False
    for argv, message in (
        (['--no-class-matching', '--model-classes', 'A,B'], 'contradicts'),
        (['--class-map', 'contempt'], "'contempt' is not TEST=MODEL"),
    ):
        with pytest.raises(SystemExit) as stopped:
            _parse(argv)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err
