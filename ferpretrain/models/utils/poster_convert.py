"""Convert POSTER (v1) checkpoints to ferpretrain's :class:`Poster`.

The official training script (zczcwh/POSTER ``train.py``) saves
``{'iter', 'model_state_dict', 'optimizer_state_dict'}`` of a
``DataParallel`` model, so every key starts with ``module.``. Nothing in it
is a foreign class, but it is read with the same restricted unpickler as the
POSTER V2 releases (:func:`load_posterv2_release`), so a crafted file cannot
run code either.

Key mapping (official name after stripping ``module.``; ``<b>`` is the
pyramid layer, ``<s>`` the scale: ``l`` 0, ``m`` 1, ``s`` 2):

.. code:: text

    official                                 ferpretrain
    ir_back.input_layer.*                    backbone.input_layer.*
    ir_back.body.<n>.*   (flat, n = 0..20)   backbone.body.<stage>.<unit>.*
        (units 0-2 stage 0, 3-6 stage 1, 7-20 stage 2)
    face_landback.conv_{3,4,5}.model.<n>.*   landmark_backbone.conv_*.<n>.*
    face_landback.<layer>.*                  landmark_backbone.<layer>.*
    ir_layer.*                               neck.image_proj.*
    pyramid_fuse.pos_embed                   neck.pos_embed
    pyramid_fuse.downsample_m / _s.*         neck.downsamples.0 / 1.*
    pyramid_fuse.blocks.<b>.block_<s>.X      neck.layers.<b>.blocks.<s>.Y
        norm1 -> image_attn_norm       norm3 -> landmark_attn_norm
        norm2 -> image_mlp_norm        norm4 -> landmark_mlp_norm
        attn_img.{kv,proj} -> image_attn.*   attn_lm.* -> landmark_attn.*
        mlp1.{fc1,fc2} -> image_mlp.*        mlp2.* -> landmark_mlp.*
        conv -> token_mix
    pyramid_fuse.blocks.<b>.upsample_m.*     neck.layers.<b>.upsamples.0.*
        (medium -> large)
    pyramid_fuse.blocks.<b>.upsample_s.*     neck.layers.<b>.upsamples.1.*
        (small -> medium)
    pyramid_fuse.norm.*                      neck.norm.*
    se_block.linear{1,2}.*                   neck.se.linear{1,2}.*
    head.linear.*                            head.fc.*

Dropped keys (returned, grouped): ``ir_back.output_layer.*`` (IR-50
face-recognition layer, never run), ``face_landback.output_layer.*`` (the
landmark regressor, output discarded) and ``pyramid_fuse.cls_token`` (never
used: the CLS tokens are token means). Any other key is *unknown* and
returned for the caller to report.

Classes: RAF-DB labels are ``code - 1`` (Surprise, Fear, Disgust,
Happiness, Sadness, Anger, Neutral), ferpretrain's ``RAFDB_CATEGORIES``;
AffectNet labels are the AffectNet codes (``*_exp.npy``, 0..6 or 0..7),
ferpretrain's ``AFFECTNET_CATEGORIES[:7]`` / ``[:8]``. No row is permuted.
"""
import re
from collections import OrderedDict
from typing import Any, Dict, List, Sequence, Tuple, Union

from .posterv2_convert import rename_state_dict

__all__ = ['convert_poster_checkpoint']

_WB = r'(?:weight|bias)'
_LANDMARK_LAYERS = r'(?:conv1|conv2_dw|conv_23|conv_34|conv_45|conv_6_sep)'
_SCALES = {'l': 0, 'm': 1, 's': 2}
_BLOCK_PARTS = {
    'norm1': 'image_attn_norm',
    'norm2': 'image_mlp_norm',
    'norm3': 'landmark_attn_norm',
    'norm4': 'landmark_mlp_norm',
    'attn_img': 'image_attn',
    'attn_lm': 'landmark_attn',
    'mlp1': 'image_mlp',
    'mlp2': 'landmark_mlp',
    'conv': 'token_mix',
}
_UPSAMPLES = {'m': 0, 's': 1}

_BLOCK = re.compile(
    r'pyramid_fuse\.blocks\.(?P<b>\d+)\.block_(?P<s>[lms])\.'
    r'(?P<part>norm[1-4]|attn_img|attn_lm|mlp[12]|conv)\.(?P<r>.+)')
_UPSAMPLE = re.compile(
    rf'pyramid_fuse\.blocks\.(?P<b>\d+)\.upsample_(?P<s>[ms])\.(?P<r>{_WB})')
_IR_BODY = re.compile(r'ir_back\.body\.(?P<n>\d+)\.(?P<r>.+)')
_SIMPLE = [(re.compile(p), r) for p, r in [
    (r'ir_back\.input_layer\.(?P<r>.+)', 'backbone.input_layer.{r}'),
    (r'face_landback\.(?P<l>conv_[345])\.model\.(?P<r>\d+\..+)',
     'landmark_backbone.{l}.{r}'),
    (rf'face_landback\.(?P<l>{_LANDMARK_LAYERS})\.(?P<r>.+)',
     'landmark_backbone.{l}.{r}'),
    (rf'ir_layer\.(?P<r>{_WB})', 'neck.image_proj.{r}'),
    (r'pyramid_fuse\.pos_embed', 'neck.pos_embed'),
    (rf'pyramid_fuse\.downsample_m\.(?P<r>{_WB})', 'neck.downsamples.0.{r}'),
    (rf'pyramid_fuse\.downsample_s\.(?P<r>{_WB})', 'neck.downsamples.1.{r}'),
    (rf'pyramid_fuse\.norm\.(?P<r>{_WB})', 'neck.norm.{r}'),
    (rf'se_block\.(?P<r>linear[12]\.{_WB})', 'neck.se.{r}'),
    (rf'head\.linear\.(?P<r>{_WB})', 'head.fc.{r}'),
]]
_DROPS = [(re.compile(p), label) for p, label in [
    (r'ir_back\.output_layer\..+',
     'ir_back.output_layer (IR-50 face-recognition head, never run)'),
    (r'face_landback\.output_layer\..+',
     'face_landback.output_layer (landmark regressor, output unused)'),
    (r'pyramid_fuse\.cls_token',
     'pyramid_fuse.cls_token (never used: CLS tokens are token means)'),
]]

#: Units per stage of the IR-50 stages POSTER builds.
POSTER_IR50_UNITS = (3, 4, 14)


def _rename(name: str, stage_units: Sequence[int]) -> Union[str, None]:
    match = _BLOCK.fullmatch(name)
    if match:
        return (f'neck.layers.{match["b"]}.blocks.{_SCALES[match["s"]]}.'
                f'{_BLOCK_PARTS[match["part"]]}.{match["r"]}')
    match = _UPSAMPLE.fullmatch(name)
    if match:
        return (f'neck.layers.{match["b"]}.upsamples.'
                f'{_UPSAMPLES[match["s"]]}.{match["r"]}')
    match = _IR_BODY.fullmatch(name)
    if match:
        unit = int(match['n'])
        for stage, units in enumerate(stage_units):
            if unit < units:
                return f'backbone.body.{stage}.{unit}.{match["r"]}'
            unit -= units
        return None  # beyond the stages POSTER builds: unknown
    for pattern, replacement in _SIMPLE:
        match = pattern.fullmatch(name)
        if match:
            return replacement.format(**match.groupdict())
    return None


def convert_poster_checkpoint(
    state_dict: Dict[str, Any],
    stage_units: Sequence[int] = POSTER_IR50_UNITS,
) -> Tuple['OrderedDict[str, Any]', Dict[str, List[str]], List[str]]:
    """Rename an official POSTER state dict to :class:`Poster` names.

    See the module docstring for the table. ``module.`` is stripped; values
    pass through unchanged.

    Args:
        state_dict (dict): ``checkpoint['model_state_dict']``.
        stage_units (Sequence[int]): IR units per stage, to split the flat
            ``ir_back.body.<n>``. Defaults to IR-50's ``(3, 4, 14)``.

    Returns:
        tuple: ``(new_state_dict, dropped_keys, unknown_keys)`` as
        :func:`convert_posterv2_checkpoint`.

    Raises:
        ValueError: Two official keys map to the same name.
    """
    def drop_group(name: str) -> Union[str, None]:
        for pattern, label in _DROPS:
            if pattern.fullmatch(name):
                return label
        return None

    return rename_state_dict(state_dict,
                             lambda name: _rename(name, stage_units),
                             drop_group, 'POSTER')
