"""User errors become one message; bugs keep their traceback."""
import subprocess
import sys

import pytest
from mmengine.registry import DATASETS

from ferpretrain.datasets.base_fer import FERAnnotationError, FERSampleError
from ferpretrain.utils.errors import (CheckpointError, ConfigError,
                                      registry_suggestions, run_tool,
                                      user_error_message)


def _raise_in_registry_build(error):
    """What mmengine's build_from_cfg does with an error in __init__."""
    try:
        raise error
    except Exception as e:  # noqa: BLE001
        try:
            raise type(e)('class `RAFDB` in ferpretrain/datasets/rafdb.py: '
                          f'{e}')
        except Exception as outer:  # noqa: BLE001
            return outer


def test_project_errors_are_user_errors():
    error = _raise_in_registry_build(
        FERAnnotationError('labels.txt:3: label 9 out of range (1..7)'))
    assert user_error_message(error) == (
        'RAFDB: labels.txt:3: label 9 out of range (1..7)')
    assert user_error_message(ConfigError('bad --out')) == 'bad --out'
    assert user_error_message(CheckpointError('x.pth is empty')) == \
        'x.pth is empty'


def test_worker_traceback_text_is_reduced_to_the_message():
    # torch re-raises a worker's exception with its traceback as the text.
    text = ('Caught FERSampleError in DataLoader worker process 0.\n'
            'Original Traceback (most recent call last):\n'
            '  File "x.py", line 1, in f\n    raise FERSampleError(msg)\n'
            'ferpretrain.datasets.base_fer.FERSampleError: img.jpg '
            '(labels.txt:4): cannot decode\n')
    assert user_error_message(FERSampleError(text)) == \
        'img.jpg (labels.txt:4): cannot decode'


def test_explicit_raise_in_ferpretrain_is_a_user_error_but_a_bug_is_not():
    from ferpretrain.datasets.categories import label_permutation
    with pytest.raises(ValueError) as ours:
        label_permutation(['a', 'a'], ['a'])
    assert 'duplicated' in user_error_message(ours.value)
    with pytest.raises(ZeroDivisionError) as bug:
        1 / 0
    assert user_error_message(bug.value) is None
    with pytest.raises(ValueError) as library:
        int('x')
    assert user_error_message(library.value) is None


def test_registry_typo_gets_did_you_mean():
    assert registry_suggestions('RAFBD', 'mmpretrain', 'dataset')[0] == \
        'RAFDB'
    with pytest.raises(KeyError) as miss:
        DATASETS.build(dict(type='RAFBD'))
    message = user_error_message(miss.value)
    assert "'RAFBD' is not a registered dataset type" in message
    assert "Did you mean 'RAFDB'" in message


def test_run_tool_prints_one_message_and_exits_1(capsys, monkeypatch):
    def main():
        raise ConfigError('--work-dir /x is not writable.')

    with pytest.raises(SystemExit) as stop:
        run_tool(main, argv=[])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert 'ERROR: --work-dir /x is not writable.' in err
    assert 'Traceback' not in err
    # --debug (or the environment variable) re-raises, with the traceback.
    with pytest.raises(ConfigError):
        run_tool(main, argv=['--debug'])
    monkeypatch.setenv('FERPRETRAIN_DEBUG', '1')
    with pytest.raises(ConfigError):
        run_tool(main, argv=[])
    monkeypatch.delenv('FERPRETRAIN_DEBUG')
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_tool(lambda: 1 / 0, argv=[])


def test_a_tool_error_has_no_traceback(tmp_path):
    """Through a real tool: a converter with a file that does not exist."""
    from ferpretrain.utils.conversion import REPO_ROOT
    proc = subprocess.run(
        [sys.executable, f'{REPO_ROOT}/tools/model_converters/'
         'posterv2_to_ferpretrain.py', str(tmp_path / 'missing.pth'),
         str(tmp_path / 'out.pth')],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert 'missing.pth' in proc.stderr and 'does not exist' in proc.stderr
    assert 'Traceback' not in proc.stderr
