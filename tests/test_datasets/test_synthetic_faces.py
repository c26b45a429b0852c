"""Tests of the synthetic RAF-DB-layout demo dataset generator."""
import hashlib
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ferpretrain.datasets.synthetic_faces import (EXPRESSIONS, LABEL_FILE,
                                                  draw_face,
                                                  generate_synthetic_rafdb)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO, 'tools', 'dataset_converters', 'generate_demo_rafdb.py')
NUM_TRAIN, NUM_TEST = 70, 35


def _read_labels(root):
    with open(osp.join(root, 'basic', 'EmoLabel',
                       'list_patition_label.txt')) as f:
        return f.read()


def _md5(path):
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    summary = generate_synthetic_rafdb(
        str(out), num_train=NUM_TRAIN, num_test=NUM_TEST, seed=0)
    return out, summary


def test_expressions_in_rafdb_order():
    assert EXPRESSIONS == ('Surprise', 'Fear', 'Disgust', 'Happiness',
                           'Sadness', 'Anger', 'Neutral')
    assert LABEL_FILE == osp.join('EmoLabel', 'list_patition_label.txt')


def test_layout(demo):
    out, summary = demo
    basic = osp.join(out, 'basic')
    assert sorted(os.listdir(basic)) == ['EmoLabel', 'Image']
    assert os.listdir(osp.join(basic, 'EmoLabel')) == [
        'list_patition_label.txt'
    ]
    assert sorted(os.listdir(osp.join(basic, 'Image'))) == [
        'aligned', 'original'
    ]
    assert summary['root'] == osp.abspath(basic)
    assert summary['label_file'] == osp.join(osp.abspath(basic), LABEL_FILE)

    lines = _read_labels(out).splitlines()
    assert len(lines) == NUM_TRAIN + NUM_TEST
    names = []
    for line in lines:
        assert re.fullmatch(r'(train_\d{5}|test_\d{4})\.jpg [1-7]', line), \
            line
        names.append(line.split()[0])
    # Train lines first, then test lines, numbered from 1 like RAF-DB.
    assert names == ([f'train_{i:05d}.jpg' for i in range(1, NUM_TRAIN + 1)]
                     + [f'test_{i:04d}.jpg' for i in range(1, NUM_TEST + 1)])

    originals = sorted(os.listdir(osp.join(basic, 'Image', 'original')))
    aligned = sorted(os.listdir(osp.join(basic, 'Image', 'aligned')))
    assert originals == sorted(names)
    assert aligned == sorted(n[:-4] + '_aligned.jpg' for n in names)

    for name in (names[0], names[-1]):
        img = cv2.imread(osp.join(basic, 'Image', 'aligned',
                                  name[:-4] + '_aligned.jpg'))
        assert img is not None and img.shape == (100, 100, 3)
        img = cv2.imread(osp.join(basic, 'Image', 'original', name))
        assert img is not None and img.shape == (160, 200, 3)


def test_labels_and_counts(demo):
    out, summary = demo
    labels = {'train': [], 'test': []}
    for line in _read_labels(out).splitlines():
        name, label = line.split()
        labels[name.split('_')[0]].append(int(label))
    for split, num in (('train', NUM_TRAIN), ('test', NUM_TEST)):
        values = np.array(labels[split])
        assert set(values.tolist()) == set(range(1, 8))  # every class
        counts = np.bincount(values, minlength=8)[1:]
        assert counts.sum() == num
        assert counts.max() - counts.min() <= 1  # uniform by default
        assert summary['class_counts'][split] == dict(
            zip(EXPRESSIONS, counts.tolist()))
    assert summary['num_train'] == NUM_TRAIN
    assert summary['num_test'] == NUM_TEST
    # Not sorted by class: the labels are shuffled.
    assert labels['train'] != sorted(labels['train'])


def test_images_are_not_blank(demo):
    out, _ = demo
    img = cv2.imread(
        osp.join(out, 'basic', 'Image', 'aligned', 'train_00001_aligned.jpg'))
    assert img.std() > 10


def test_deterministic_and_seed_dependent(tmp_path):
    kwargs = dict(num_train=14, num_test=7)
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_synthetic_rafdb(a, seed=3, **kwargs)
    generate_synthetic_rafdb(b, seed=3, workers=2, **kwargs)  # same output
    generate_synthetic_rafdb(c, seed=4, **kwargs)
    assert _read_labels(a) == _read_labels(b)
    files = [osp.join('Image', 'original', 'train_00001.jpg'),
             osp.join('Image', 'aligned', 'train_00014_aligned.jpg'),
             osp.join('Image', 'aligned', 'test_0007_aligned.jpg')]
    for rel in files:
        assert _md5(osp.join(a, 'basic', rel)) == _md5(
            osp.join(b, 'basic', rel))
    assert _read_labels(a) != _read_labels(c)
    for rel in files:
        assert _md5(osp.join(a, 'basic', rel)) != _md5(
            osp.join(c, 'basic', rel))


def test_sizes_and_class_weights(tmp_path):
    summary = generate_synthetic_rafdb(
        str(tmp_path), num_train=20, num_test=0, aligned_size=64,
        original_size=(120, 90), class_weights=[0, 0, 0, 3, 1, 0, 1])
    assert summary['class_counts']['train'] == dict(
        Surprise=0, Fear=0, Disgust=0, Happiness=12, Sadness=4, Anger=0,
        Neutral=4)
    assert summary['class_counts']['test'] == dict.fromkeys(EXPRESSIONS, 0)
    basic = tmp_path / 'basic'
    img = cv2.imread(str(basic / 'Image' / 'aligned' /
                         'train_00020_aligned.jpg'))
    assert img.shape == (64, 64, 3)
    img = cv2.imread(str(basic / 'Image' / 'original' / 'train_00020.jpg'))
    assert img.shape == (120, 90, 3)
    labels = {int(line.split()[1]) for line in
              (basic / LABEL_FILE).read_text().splitlines()}
    assert labels == {4, 5, 7}
    with pytest.raises(ValueError):
        generate_synthetic_rafdb(str(tmp_path), class_weights=[1, 2])


def test_draw_face():
    for expression in EXPRESSIONS:
        img = draw_face(expression, np.random.default_rng(0), size=72)
        assert img.shape == (72, 72, 3) and img.dtype == np.uint8
    a = draw_face('happiness', np.random.default_rng(1), 64)
    b = draw_face('Happiness', np.random.default_rng(1), 64)
    np.testing.assert_array_equal(a, b)
    # Same identity and background, different expression: different face.
    c = draw_face('Sadness', np.random.default_rng(1), 64)
    assert np.abs(a.astype(int) - c.astype(int)).sum() > 0
    with pytest.raises(ValueError):
        draw_face('Contempt', np.random.default_rng(0), 64)


def _run_cli(*args):
    return subprocess.run([sys.executable, CLI, *args],
                          capture_output=True, text=True, cwd=REPO)


def test_cli_refuses_overwrite(tmp_path):
    out = str(tmp_path)
    first = _run_cli(out, '--num-train', '14', '--num-test', '7', '--seed',
                     '1')
    assert first.returncode == 0, first.stderr
    label_file = osp.join(out, 'basic', 'EmoLabel', 'list_patition_label.txt')
    assert label_file in first.stdout
    for name in EXPRESSIONS:
        assert name in first.stdout
    assert len(_read_labels(out).splitlines()) == 21

    second = _run_cli(out, '--num-train', '7', '--num-test', '7')
    assert second.returncode != 0
    assert '--overwrite' in second.stderr
    assert len(_read_labels(out).splitlines()) == 21  # untouched

    third = _run_cli(out, '--num-train', '7', '--num-test', '7',
                     '--aligned-size', '48', '--overwrite')
    assert third.returncode == 0, third.stderr
    assert len(_read_labels(out).splitlines()) == 14
    # The old basic/ was removed: no stale images from the first run.
    aligned = os.listdir(osp.join(out, 'basic', 'Image', 'aligned'))
    assert len(aligned) == 14
    img = cv2.imread(osp.join(out, 'basic', 'Image', 'aligned',
                              'train_00007_aligned.jpg'))
    assert img.shape == (48, 48, 3)


def test_cli_help():
    result = _run_cli('--help')
    assert result.returncode == 0
    for option in ('--num-train', '--num-test', '--seed', '--aligned-size',
                   '--overwrite'):
        assert option in result.stdout
