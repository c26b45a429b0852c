"""ferpretrain.utils.batch_files: what the dataset tools share (finding
images, atomic outputs, worker pools with a progress bar, their flags)."""
import argparse
import os
import os.path as osp

import pytest

from ferpretrain.utils.batch_files import (add_batch_arguments, atomic_file,
                                           batch_parser, is_image, is_inside,
                                           is_junk, list_some,
                                           map_with_progress,
                                           parse_batch_args, progress_bar,
                                           walk_images, worker_pool)


def _touch(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'w').close()


def test_walk_images(tmp_path):
    for rel in ('b/2.PNG', 'b/1.jpg', 'a.tiff', 'README', '.hidden.png',
                'Thumbs.db', '.git/x.png', 'b/c/notes.txt', 'b/c/3.webp'):
        _touch(str(tmp_path / rel))
    images, others = walk_images(str(tmp_path))
    # A sorted walk: a folder's files, then its sub-folders.
    assert images == ['a.tiff', osp.join('b', '1.jpg'),
                      osp.join('b', '2.PNG'), osp.join('b', 'c', '3.webp')]
    assert others == ['README', osp.join('b', 'c', 'notes.txt')]
    assert is_junk('desktop.ini') and is_junk('.DS_Store')
    assert not is_junk('face.png')
    assert is_image('X.JPEG') and not is_image('x.txt')


def test_is_inside(tmp_path):
    inner = tmp_path / 'data' / 'raw'
    inner.mkdir(parents=True)
    assert is_inside(str(inner), str(tmp_path / 'data'))
    assert is_inside(str(tmp_path / 'data'), str(tmp_path / 'data'))
    assert not is_inside(str(tmp_path / 'data_aligned'),
                         str(tmp_path / 'data'))
    link = tmp_path / 'link'
    link.symlink_to(inner)
    assert is_inside(str(link), str(tmp_path / 'data'))


def test_atomic_file(tmp_path):
    path = tmp_path / 'new' / 'out.csv'
    with atomic_file(str(path), 'w') as f:
        f.write('a,b\n')
        # Nothing under the final name until the block completes.
        assert not path.exists()
        assert (tmp_path / 'new' / '.out.csv.part').exists()
    assert path.read_text() == 'a,b\n'
    with pytest.raises(RuntimeError):
        with atomic_file(str(path)) as f:
            f.write(b'half')
            raise RuntimeError('interrupted')
    assert path.read_text() == 'a,b\n'  # the old file stays whole


def _square(x):
    return x * x


def _remember(value):
    global _SETUP
    _SETUP = value


def _setup_value(_):
    return _SETUP


@pytest.mark.parametrize('workers', [1, 2])
def test_map_with_progress(workers):
    jobs = list(range(10))
    with progress_bar(show=False) as progress, \
            worker_pool(workers, _remember, ('worker', )) as pool:
        assert (pool is None) == (workers == 1)
        rows = map_with_progress(_square, jobs, pool, progress, 'squares',
                                 chunksize=3)
        assert map_with_progress(_square, [], pool, progress, 'none') == []
        if pool is not None:
            # Every worker ran the initializer.
            assert set(pool.map(_setup_value, range(4))) == {'worker'}
    assert sorted(rows) == [x * x for x in jobs]
    if workers == 1:
        assert rows == [x * x for x in jobs]  # in order
    [task] = progress.tasks
    assert (task.description, task.completed, task.total) == ('squares', 10,
                                                               10)


def test_list_some():
    assert list_some([]) == ''
    assert list_some(['a', 'b']) == 'a, b'
    assert list_some('abcdefg', limit=3) == 'a, b, c and 4 more'


def _parser():
    parser = batch_parser('The manual.\n\n  indented  as written')
    parser.add_argument('--size', type=int, default=112)
    add_batch_arguments(parser, 'worker processes', 'replace outputs')
    return parser


def test_batch_arguments(capsys):
    args = parse_batch_args(_parser(), ['--workers', '3', '--overwrite'],
                            size=8)
    assert (args.workers, args.overwrite, args.no_progress) == (3, True,
                                                                False)
    assert parse_batch_args(_parser(), ['--no-progress']).no_progress
    for argv, message in ((['--workers', '0'], '--workers must be >= 1'),
                          (['--size', '4'], '--size must be >= 8')):
        with pytest.raises(SystemExit) as stopped:
            parse_batch_args(_parser(), argv, size=8)
        assert stopped.value.code == 2
        assert message in capsys.readouterr().err
    parser = _parser()
    assert isinstance(parser, argparse.ArgumentParser)
    # The manual keeps its layout in --help.
    assert '  indented  as written' in parser.format_help()
