"""The README keeps its sections, in order, and the test command CI runs
(.ci/run) is the one it states: an edit that drops a section fails here."""
import os.path as osp
import re

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SECTIONS = ('Get started', 'Models', 'Datasets', 'Train and test',
            'Use a trained model', 'Analysis and speed',
            'Use in other OpenMMLab projects', 'Layout', 'Citation')


def _readme():
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        return f.read()


def test_sections_in_order():
    found = re.findall(r'^## (.+)$', _readme(), flags=re.M)
    assert [s for s in found if s in SECTIONS] == list(SECTIONS), found


def test_ci_runs_the_readme_test_command():
    command = ('pip install -e ".[tests,mmaction]" && '
               'python -m pytest tests --random-order-bucket=module')
    assert command in _readme()
    with open(osp.join(REPO, '.ci', 'run')) as f:
        assert command in f.read()
