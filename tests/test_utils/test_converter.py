"""ferpretrain.utils.conversion.Converter: a converter declared once, the
shared steps taking its name, model and releases from it."""
import pytest
import torch

from ferpretrain.utils import conversion
from ferpretrain.utils.conversion import Conversion, Converter, Release
from ferpretrain.utils.errors import ConfigError

RELEASES = (
    Release('rafdb', 'RAF-DB', ('a', 'b', 'c'), 'configs/x/raf.py'),
    Release('other', 'Other', ('c', 'b', 'a'), 'configs/x/other.py'),
    Release('eight', 'Eight', tuple('abcdefgh'), 'configs/x/eight.py'),
)
CONVERTER = Converter('/somewhere/tools/x_to_ferpretrain.py', 'X',
                      'X checkpoint (.pth)', RELEASES)


def test_name_from_the_tool_file():
    assert CONVERTER.name == 'x_to_ferpretrain'
    assert Converter('y_to_ferpretrain', 'Y', 'src').name == \
        'y_to_ferpretrain'


def test_parser_is_the_converters(capsys):
    parser = CONVERTER.parser('Convert X.\n\nMore text.')
    assert parser.description == 'Convert X.'
    args = parser.parse_args(['in.pth', 'out.pth', '--dataset', 'other'])
    assert (args.src, args.dst, args.dataset) == ('in.pth', 'out.pth',
                                                  'other')
    parser.print_help()
    assert 'X checkpoint (.pth)' in capsys.readouterr().out
    bare = Converter('z', 'Z', 'Z file', classes=False).parser('Z.')
    assert not hasattr(bare.parse_args(['a', 'b']), 'classes')


def test_head_classes():
    state = {'head.fc.weight': torch.zeros(3, 4),
             'other.weight': torch.zeros(8, 4)}
    parser = CONVERTER.parser('X.')
    args = parser.parse_args(['in.pth', 'out.pth', '--dataset', 'other'])
    assert CONVERTER.head_classes(args, state, 'fc') == (('c', 'b', 'a'),
                                                         RELEASES[1])
    args = parser.parse_args(['in.pth', 'out.pth'])
    with pytest.raises(ConfigError, match='2 X releases have 3 classes'):
        CONVERTER.head_classes(args, state, 'fc')
    assert CONVERTER.head_classes(args, state, 'fc',
                                  'other.weight') == (tuple('abcdefgh'),
                                                      RELEASES[2])


def test_finish_names_the_converter_and_its_config(monkeypatch):
    calls = []
    monkeypatch.setattr(conversion, 'finish_conversion',
                        lambda *a, **k: calls.append((a, k)))
    done = Conversion({})
    CONVERTER.finish('args', done, (('c', 'b', 'a'), RELEASES[1]))
    CONVERTER.finish('args', done, (('x', 'y', 'z'), None))
    CONVERTER.finish('args', done, (None, None), 'mine.py', component='n')
    assert calls == [
        (('args', done, 'x_to_ferpretrain', 'X', 'configs/x/other.py'),
         dict(classes=('c', 'b', 'a'), release=RELEASES[1])),
        # --classes: no release; the converter's (first release's) config.
        (('args', done, 'x_to_ferpretrain', 'X', 'configs/x/raf.py'),
         dict(classes=('x', 'y', 'z'), release=None)),
        (('args', done, 'x_to_ferpretrain', 'X', 'mine.py'),
         dict(classes=None, release=None, component='n')),
    ]
    calls.clear()
    Converter('m', 'M', 'src', config='configs/m.py',
              classes=False).finish('args', done)
    assert calls[0][0][-1] == 'configs/m.py'
