"""Each paper's metafile.yml (the OpenMMLab model index) lists every config
of its folder, once, and points at files that exist."""
import glob
import os.path as osp

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
METAFILES = sorted(glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')))


@pytest.mark.parametrize(
    'metafile', METAFILES, ids=[osp.relpath(p, REPO) for p in METAFILES])
def test_metafile_lists_every_config(metafile):
    with open(metafile) as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    assert osp.isfile(osp.join(REPO, meta['Collections'][0]['README']))
    names, listed = set(), []
    for model in meta['Models']:
        assert model['Name'] not in names, f'{metafile}: {model["Name"]} twice'
        names.add(model['Name'])
        assert model['In Collection'] in collections, model['Name']
        assert osp.isfile(osp.join(REPO, model['Config'])), model['Config']
        listed.append(model['Config'])
        for result in model['Results'] or []:
            for value in result['Metrics'].values():
                assert 0 < value <= 100, (model['Name'], value)
    folder = osp.dirname(metafile)
    configs = sorted(
        osp.relpath(p, REPO) for p in glob.glob(osp.join(folder, '*.py')))
    missing = sorted(set(configs) - set(listed))
    assert not missing, f'{metafile}: add a model entry for {missing}'
    assert len(listed) == len(configs), f'{metafile}: a config listed twice'
