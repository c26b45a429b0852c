"""What the downstream tests share: the README's examples, read from the
README itself, so that the lines a user copies are the lines tested."""
import os.path as osp
import re

import pytest
import torch

README = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
    'README.md')
SECTION = 'Use in other OpenMMLab projects'


def readme_python_block(containing: str) -> str:
    """The one ```python block of the README's downstream section that
    contains ``containing``."""
    with open(README, encoding='utf-8') as f:
        text = f.read()
    section = re.search(rf'^## {re.escape(SECTION)}\n(.*?)(?=^## )', text,
                        flags=re.M | re.S)
    assert section, f'README.md has no "## {SECTION}" section'
    blocks = [
        b for b in re.findall(r'^```python\n(.*?)^```', section.group(1),
                              flags=re.M | re.S) if containing in b
    ]
    assert len(blocks) == 1, (
        f'README.md, "{SECTION}": expected one python block with '
        f'{containing!r}, found {len(blocks)}')
    return blocks[0]


@pytest.fixture
def readme_config(tmp_path):
    """Write the README block containing a string to a config file; return
    its path."""

    def write(containing: str, name: str = 'readme_example.py') -> str:
        path = tmp_path / name
        path.write_text(readme_python_block(containing))
        return str(path)

    return write


@pytest.fixture
def train_then_predict():
    return _train_then_predict


def _train_then_predict(model, inputs, samples, loss_key: str):
    """What a downstream project's runner does with a model, once: the
    data preprocessor and the loss (which must be finite and positive)
    in training mode, back-propagation, then the predictions in eval mode.
    Returns the predicted data samples."""
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)
    loss = model(**data, mode='loss')[loss_key]
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=inputs, data_samples=samples))
        return model(**data, mode='predict')
