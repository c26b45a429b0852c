"""A procedurally drawn, RAF-DB-shaped demo dataset of facial expressions.

What it is for
--------------
:func:`generate_synthetic_rafdb` writes a small face-expression dataset in
*exactly* the layout of the official RAF-DB ``basic/`` release, so that the
RAF-DB dataset class, its configs and every tool that reads RAF-DB run on it
unchanged::

    <out_dir>/basic/
        EmoLabel/list_patition_label.txt     # "train_00001.jpg 5" per line
        Image/original/train_00001.jpg ...   # the face somewhere in a scene
        Image/aligned/train_00001_aligned.jpg ...  # aligned face crops

(``list_patition_label.txt`` keeps the official misspelling.) It is meant for
a quick start (train and evaluate a model end to end in minutes on a CPU,
with no download and no licence agreement) and for tests. It is **not** a
benchmark: accuracies on it say nothing about real facial expression
recognition.

It is fully synthetic: every image is drawn with OpenCV primitives from
random numbers. No real face, photograph or third-party data is involved, so
the generated files carry no privacy or licence restrictions.

What the expressions look like
------------------------------
Labels use the RAF-DB codes (1..7, order of :data:`EXPRESSIONS`). Each
expression moves the mouth, the brows and the eyes the way the corresponding
action units move a real face:

* **Surprise** (1): brows raised high and arched, eyes wide open (white shows
  above the iris), an open oval "O" mouth, forehead wrinkles.
* **Fear** (2): brows raised *and* pulled together, so they are flat and
  their inner ends rise; eyes wide open; the mouth open and stretched
  horizontally, corners slightly down.
* **Disgust** (3): brows lowered, eyes narrowed, the upper lip raised on one
  side (an asymmetric, wavy mouth showing a little teeth), nose wrinkles.
* **Happiness** (4): mouth corners pulled up into a smile (open with upper
  teeth about half of the time), cheeks raised so the eyes squint into
  crescents, smile lines from the nose to the mouth corners, relaxed brows.
* **Sadness** (5): mouth corners down, a pouting lower lip, the inner ends of
  the brows raised (oblique brows), upper eyelids drooping at the outer
  corners.
* **Anger** (6): brows lowered and slanted down toward the centre with frown
  lines between them, narrowed eyes, lips pressed into a tight flat line (or,
  sometimes, bared clenched teeth).
* **Neutral** (7): straight relaxed mouth, level brows, normally open eyes.

How the samples vary
--------------------
Every sample draws a random identity (face width/height ratio and jaw
shape, skin tone, eye spacing, size and iris colour, brow thickness and
length, nose, lips, hair style and colour, optional glasses, beard or
moustache), a per-expression *intensity* (weak expressions drift toward
Neutral, so classes overlap a little and the task is not trivially
separable), a random pose in the scene (in-plane rotation up to 15 degrees,
translation, scale), a cluttered background, lighting and colour jitter,
blur and Gaussian noise, and finally JPEG compression when saved. The
aligned image is cropped from the processed scene around the face with a
small residual rotation, shift and scale error, as a face aligner would
leave, and resized to ``aligned_size``.

It is learnable but not trivial: on the default 1400/350 split (seed 0) a
tiny 8-layer CNN trained from scratch on 112x112 aligned crops for 15 epochs
on a CPU (about 2 minutes) reached 82 % test accuracy (chance: 14 %), and
logistic regression on 32x32 grey pixels 53 %. Weak expressions are confused
with Neutral and Disgust with Anger, as in real data.

Generation is deterministic: the same arguments give byte-identical files
(for a given OpenCV build), whatever the number of worker processes.

Paired data (same person, every expression)
-------------------------------------------
:func:`generate_synthetic_pairs` draws one identity per synthetic person and
renders that person with every expression of :data:`EXPRESSIONS`, Neutral
included, for models that compare a face with the same person's neutral face
("Difference of Embeddings"). It writes the generic folder layout read by
:class:`~ferpretrain.datasets.FERFolder`, with the person id in the file
name::

    <out_dir>/train/<Expression>/p0001_1.jpg    # person p0001, take 1
    <out_dir>/test/<Expression>/p0081_1.jpg     # test persons: other ids

Each image has its own background, pose, alignment error, lighting and
expression intensity; the person (face, hair, skin, accessories) is the
same in all of them. Test persons are disjoint from training persons
(subject-independent). Read it with ``FERFolder(..., classes=EXPRESSIONS,
subject_pattern=PAIRS_SUBJECT_PATTERN)`` inside a
:class:`~ferpretrain.datasets.NeutralPairDataset`.
"""
import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'EXPRESSIONS', 'RAFDB_CLASS_FREQUENCIES', 'LABEL_FILE', 'draw_face',
    'generate_synthetic_rafdb', 'sample_identity', 'generate_synthetic_pairs',
    'PAIRS_SUBJECT_PATTERN'
]

#: Expression names in RAF-DB label order: label ``i`` is ``EXPRESSIONS[i-1]``.
EXPRESSIONS = ('Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger',
               'Neutral')

#: Class counts of the real RAF-DB ``basic`` set (train + test), in
#: :data:`EXPRESSIONS` order. Pass as ``class_weights`` for a demo with the
#: same class imbalance as RAF-DB.
RAFDB_CLASS_FREQUENCIES = (1619, 355, 877, 5957, 2460, 867, 3204)

#: Label file, relative to ``<out_dir>/basic`` (official spelling).
LABEL_FILE = osp.join('EmoLabel', 'list_patition_label.txt')

_SPLIT_CODES = {'train': 0, 'test': 1}

# The aligned crop in the canonical face frame (see ``_Painter``): a square
# of side ``_CROP_SIDE`` centred on ``_CROP_CENTRE``. It spans from the
# hairline to just below the chin, like an aligned RAF-DB face.
_CROP_CENTRE = (0.5, 0.53)
_CROP_SIDE = 0.84


# --------------------------------------------------------------------------
# Drawing primitives in the canonical face frame
# --------------------------------------------------------------------------
def _rgb(r, g, b):
    """An OpenCV (BGR) colour from RGB components."""
    return (float(b), float(g), float(r))


def _scale_color(color, factor, add=0.0):
    return tuple(float(min(255.0, max(0.0, c * factor + add))) for c in color)


def _mix(c1, c2, w):
    """``(1 - w) * c1 + w * c2``."""
    return tuple(float((1 - w) * a + w * b) for a, b in zip(c1, c2))


def _ellipse_pts(cx, cy, a, b, angle=0.0, start=0.0, end=360.0, n=40):
    """Points on an ellipse (angles in degrees, y axis pointing down)."""
    t = np.deg2rad(np.linspace(start, end, n))
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([cx + x * ca - y * sa, cy + x * sa + y * ca], axis=1)


def _curve(x, y):
    return np.stack([np.asarray(x, float), np.asarray(y, float)], axis=1)


class _Painter:
    """Draws anti-aliased shapes given in the canonical face frame.

    The canonical frame is the unit square of the aligned crop: ``(0, 0)`` is
    its top-left corner and ``(1, 1)`` its bottom-right corner. ``matrix`` (a
    2x3 affine) maps it to pixels of ``img``, so the same face can be drawn
    upright into a crop or rotated and scaled into a scene.
    """

    SHIFT = 4  # sub-pixel bits for cv2 drawing

    def __init__(self, img: np.ndarray, matrix: np.ndarray):
        self.img = img
        self.m = np.asarray(matrix, dtype=np.float64)
        self.scale = math.sqrt(abs(np.linalg.det(self.m[:, :2])))

    def _px(self, pts):
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        xy = pts @ self.m[:, :2].T + self.m[:, 2]
        return np.round(xy * (1 << self.SHIFT)).astype(np.int32)

    def width(self, w):
        return max(1, int(round(w * self.scale)))

    def _target(self, alpha):
        return self.img if alpha >= 1.0 else self.img.copy()

    def _blend(self, target, alpha):
        if alpha < 1.0:
            cv2.addWeighted(target, alpha, self.img, 1.0 - alpha, 0.0,
                            dst=self.img)

    def fill(self, pts, color, alpha=1.0):
        if alpha <= 0.01:
            return
        target = self._target(alpha)
        cv2.fillPoly(target, [self._px(pts)], color, cv2.LINE_AA, self.SHIFT)
        self._blend(target, alpha)

    def line(self, pts, color, width, closed=False, alpha=1.0):
        if alpha <= 0.01:
            return
        target = self._target(alpha)
        cv2.polylines(target, [self._px(pts)], closed, color,
                      self.width(width), cv2.LINE_AA, self.SHIFT)
        self._blend(target, alpha)

    def ellipse(self, cx, cy, a, b, color, angle=0.0, alpha=1.0):
        self.fill(_ellipse_pts(cx, cy, a, b, angle), color, alpha)


def _thick_curve(p0, p1, p2, w0, w1, n=14):
    """Polygon around a quadratic Bezier whose width tapers from w0 to w1."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, float) for p in (p0, p1, p2))
    pts = (1 - t)**2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    tangent = 2 * (1 - t) * (p1 - p0) + 2 * t * (p2 - p1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    half = ((1 - t) * w0 + t * w1) / 2.0
    # Round the ends a little so the brow does not end in a square cut.
    half = half * np.sqrt(np.clip(np.sin(np.pi * (0.08 + 0.84 * t)), 0, 1))
    return np.concatenate([pts + normal * half, (pts - normal * half)[::-1]])


# --------------------------------------------------------------------------
# Identity and expression parameters
# --------------------------------------------------------------------------
_SKIN_TONES = [_rgb(255, 224, 196), _rgb(241, 194, 167), _rgb(224, 172, 138),
               _rgb(198, 134, 101), _rgb(161, 102, 72), _rgb(120, 75, 50),
               _rgb(92, 58, 40)]
_HAIR_COLORS = [_rgb(25, 20, 20), _rgb(55, 38, 28), _rgb(100, 68, 42),
                _rgb(190, 150, 90), _rgb(140, 62, 32), _rgb(150, 150, 150),
                _rgb(215, 212, 205)]
_HAIR_P = [0.3, 0.22, 0.18, 0.11, 0.07, 0.07, 0.05]
_IRIS_COLORS = [_rgb(90, 55, 30), _rgb(45, 28, 18), _rgb(70, 110, 160),
                _rgb(80, 110, 75), _rgb(125, 95, 55)]
_HAIR_STYLES = ('short', 'fringe', 'long', 'curly', 'bun', 'bald')
_HAIR_STYLE_P = (0.26, 0.16, 0.26, 0.1, 0.1, 0.12)


def sample_identity(rng: np.random.Generator) -> dict:
    """Draws one synthetic person: face shape, skin tone, eyes, brows,
    nose, lips, hair, accessories and key light.

    Pass the result as ``identity`` to :func:`draw_face` to draw the same
    person with several expressions (:func:`generate_synthetic_pairs` does
    so). The dict is read, never modified, by the drawing functions.
    """
    return _sample_identity(rng)


def _sample_identity(rng: np.random.Generator) -> dict:
    u = rng.uniform
    k = u(0, len(_SKIN_TONES) - 1)
    i = int(k)
    skin = _mix(_SKIN_TONES[i], _SKIN_TONES[min(i + 1, 6)], k - i)
    skin = tuple(float(np.clip(c + rng.normal(0, 6), 0, 255)) for c in skin)
    hair = _HAIR_COLORS[rng.choice(len(_HAIR_COLORS), p=_HAIR_P)]
    hair = _scale_color(hair, u(0.85, 1.15))
    skin_b, skin_g, skin_r = skin
    lips = (skin_b * 0.62, skin_g * 0.55, min(255.0, skin_r * 0.88 + 10))
    idn = dict(
        skin=skin,
        skin_dark=_scale_color(skin, 0.72),
        skin_shadow=_scale_color(skin, 0.86),
        hair=hair,
        brow=_mix(_scale_color(hair, 0.7), _rgb(30, 22, 18), 0.35),
        lips=lips,
        iris=_IRIS_COLORS[rng.integers(len(_IRIS_COLORS))],
        shirt=tuple(float(c) for c in rng.uniform(20, 235, 3)),
        face_a=0.29 * u(0.88, 1.12),
        face_b=0.39 * u(0.94, 1.05),
        face_cy=0.5 + u(-0.015, 0.015),
        jaw=u(0.05, 0.28),
        eye_y=0.45 + u(-0.015, 0.015),
        eye_dx=u(0.112, 0.14),
        eye_w=u(0.055, 0.068),
        eye_hu=u(0.025, 0.033),
        eye_hl=u(0.017, 0.023),
        iris_r=u(0.42, 0.55),
        gaze=(u(-0.25, 0.25), u(-0.08, 0.08)),
        brow_th=u(0.018, 0.032),
        brow_len=u(0.85, 1.12),
        brow_gap=u(0.034, 0.05),
        brow_in=u(0.045, 0.062),
        nose_len=u(0.12, 0.16),
        nose_w=u(0.032, 0.048),
        mouth_y=u(0.70, 0.735),
        mouth_w=u(0.085, 0.105),
        lip_u=u(0.009, 0.015),
        lip_l=u(0.012, 0.02),
        blush=u(0.0, 0.2),
        hair_style=_HAIR_STYLES[rng.choice(len(_HAIR_STYLES),
                                           p=_HAIR_STYLE_P)],
        hairline=u(0.58, 0.78),
        part=u(-0.5, 0.5),
        glasses=rng.random() < 0.2,
        glasses_round=rng.random() < 0.5,
        glasses_color=_rgb(*([rng.uniform(10, 70)] * 3)) if rng.random() < 0.7
        else _rgb(170, 140, 60),
        beard=rng.choice(['none', 'full', 'stubble', 'goatee'],
                         p=[0.78, 0.08, 0.08, 0.06]),
        moustache=rng.random() < 0.1,
        light=rng.uniform(-1, 1),
    )
    return idn


# Expression parameters: (canonical (neutral) value, per-sample noise), by
# region. One table, so that no parameter can have a value but no noise.
_NEUTRAL_AND_NOISE = dict(
    brow_raise=(0.0, 0.005), brow_inner=(0.0, 0.004),
    brow_outer=(0.0, 0.004), brow_arch=(0.012, 0.004),
    brow_pull=(0.0, 0.003),
    eye_open=(1.0, 0.08), eye_smile=(0.0, 0.05), lid_slant=(0.0, 0.1),
    mouth_curve=(0.0, 0.006), mouth_width=(1.0, 0.06),
    open_u=(0.0, 0.0015), open_l=(0.0, 0.0025), lip_thick=(1.0, 0.1),
    snarl=(0.0, 0.04), nose_wrinkle=(0.0, 0.06), forehead=(0.0, 0.06),
    nasolabial=(0.0, 0.06), frown=(0.0, 0.06))
# Change from neutral at full intensity.
_DELTAS = {
    'Surprise': dict(brow_raise=0.042, brow_inner=0.008, brow_arch=0.018,
                     eye_open=0.6, mouth_width=-0.45, open_u=0.032,
                     open_l=0.048, forehead=1.0),
    'Fear': dict(brow_raise=0.028, brow_inner=0.022, brow_outer=-0.01,
                 brow_arch=-0.013, brow_pull=0.018, eye_open=0.5,
                 mouth_curve=-0.016, mouth_width=0.32, open_u=0.009,
                 open_l=0.02, forehead=0.6, frown=0.3),
    'Disgust': dict(brow_raise=-0.012, brow_inner=-0.003, brow_pull=0.005,
                    brow_arch=-0.004, eye_open=-0.3, eye_smile=0.35,
                    mouth_curve=-0.016, mouth_width=-0.05, snarl=1.0,
                    open_u=0.003, nose_wrinkle=1.0, nasolabial=0.6),
    'Happiness': dict(brow_raise=0.004, brow_arch=0.004, eye_open=-0.35,
                      eye_smile=0.65, mouth_curve=0.05, mouth_width=0.25,
                      lip_thick=-0.2, nasolabial=0.9),
    'Sadness': dict(brow_raise=0.002, brow_inner=0.03, brow_outer=-0.012,
                    brow_arch=-0.01, brow_pull=0.006, eye_open=-0.22,
                    lid_slant=-0.7, mouth_curve=-0.036, mouth_width=-0.05,
                    lip_thick=0.25),
    'Anger': dict(brow_raise=-0.022, brow_inner=-0.028, brow_outer=0.01,
                  brow_arch=-0.012, brow_pull=0.02, eye_open=-0.38,
                  lid_slant=0.6, mouth_curve=-0.012, mouth_width=-0.2,
                  lip_thick=-0.6, frown=1.0),
    'Neutral': dict(),
}
_NONNEG = ('eye_smile', 'open_u', 'open_l', 'snarl', 'nose_wrinkle',
           'forehead', 'nasolabial', 'frown')


def _sample_expression(expression: str, rng: np.random.Generator) -> dict:
    """Expression parameters: neutral + intensity * delta + noise."""
    if expression == 'Neutral':
        intensity = 1.0
    else:
        # Weak expressions drift toward neutral: the classes overlap a little.
        intensity = rng.uniform(0.5, 1.1)
    delta = dict(_DELTAS[expression])
    p = dict(mouth_shape=0.75, teeth='none', snarl_side=float(
        rng.choice([-1.0, 1.0])), intensity=intensity)
    # Discrete mouth variants.
    if expression == 'Happiness' and rng.random() < 0.5:
        delta.update(open_u=0.008, open_l=0.028, lip_thick=-0.35)
        p['teeth'] = 'upper'
    elif expression == 'Surprise':
        p['mouth_shape'] = 0.5  # an ellipse: the "O" mouth
        p['teeth'] = 'upper' if rng.random() < 0.3 else 'none'
    elif expression == 'Fear':
        p['mouth_shape'] = 0.3  # stretched, flat-topped opening
        p['teeth'] = rng.choice(['lower', 'both', 'none'])
    elif expression == 'Disgust':
        p['teeth'] = 'upper'
    elif expression == 'Anger' and rng.random() < 0.3:
        delta.update(open_u=0.011, open_l=0.012, lip_thick=-0.4)
        p['mouth_shape'] = 0.25
        p['teeth'] = 'both'  # bared, clenched teeth
    elif expression == 'Sadness' and rng.random() < 0.2:
        delta.update(open_u=0.002, open_l=0.006)
    for key, (base, noise) in _NEUTRAL_AND_NOISE.items():
        value = base + intensity * delta.get(key, 0.0)
        value += rng.normal(0.0, noise)
        if key in _NONNEG:
            value = max(0.0, value)
        p[key] = float(value)
    p['eye_open'] = float(np.clip(p['eye_open'], 0.3, 1.9))
    p['lip_thick'] = float(np.clip(p['lip_thick'], 0.2, 1.6))
    p['mouth_width'] = float(np.clip(p['mouth_width'], 0.45, 1.5))
    return p


# --------------------------------------------------------------------------
# The face
# --------------------------------------------------------------------------
def _brow_geometry(idn, ex, side):
    """Control points of one brow (side -1: viewer's left, +1: right)."""
    top_of_eye = idn['eye_y'] - idn['eye_hu']
    base_y = top_of_eye - idn['brow_gap'] - ex['brow_raise']
    asym = 0.0
    if ex['snarl'] > 0:  # disgust: the brow on the snarling side is lower
        asym = 0.006 * ex['snarl'] * (1.0 if side == ex['snarl_side'] else 0)
    inner_x = 0.5 + side * max(0.02, idn['brow_in'] - ex['brow_pull'])
    outer_x = 0.5 + side * (idn['eye_dx'] + idn['eye_w'] * 1.25 *
                            idn['brow_len'])
    inner = (inner_x, base_y - ex['brow_inner'] + asym)
    outer = (outer_x, base_y + 0.012 - ex['brow_outer'] + asym)
    mid = (0.5 * (inner[0] + outer[0]) + side * 0.01,
           0.5 * (inner[1] + outer[1]) - 2.0 * ex['brow_arch'])
    return inner, mid, outer


def _mouth_geometry(idn, ex):
    """Lip curves of the mouth as arrays over x (upper/lower, inner/outer)."""
    mx, my = 0.5, idn['mouth_y']
    mw = idn['mouth_w'] * ex['mouth_width']
    t = np.linspace(-1.0, 1.0, 31)
    x = mx + mw * t
    shape = np.clip(1.0 - t**2, 0.0, 1.0)
    c = ex['mouth_curve']
    centre = my - c * (t**2 - 0.35)
    s, side = ex['snarl'], ex['snarl_side']
    if s > 0:  # disgust: one side of the upper lip raised, wavy mouth line
        centre = centre - 0.007 * s * side * t \
            + 0.003 * s * np.sin(3.0 * np.pi * t) * shape
    open_u = ex['open_u'] * shape**ex['mouth_shape']
    open_l = ex['open_l'] * shape**ex['mouth_shape']
    if s > 0:
        raise_ = 0.018 * s * np.clip(side * t + 0.2, 0, None) * shape**0.5
        open_u = open_u + raise_
    upper_in = centre - open_u
    lower_in = centre + open_l
    bow = 1.0 - 0.35 * np.exp(-(t / 0.16)**2)  # cupid's bow
    upper_out = upper_in - idn['lip_u'] * ex['lip_thick'] * shape**0.5 * bow
    lower_out = lower_in + idn['lip_l'] * (ex['lip_thick']**0.7) * shape**0.6
    return dict(x=x, t=t, centre=centre, upper_in=upper_in,
                lower_in=lower_in, upper_out=upper_out, lower_out=lower_out,
                mw=mw)


def _draw_eye(P, idn, ex, side):
    ex_c = 0.5 + side * idn['eye_dx']
    ey = idn['eye_y']
    w = idn['eye_w'] * (1.0 + 0.06 * (ex['eye_open'] - 1.0))
    hu = idn['eye_hu'] * ex['eye_open']
    hl = idn['eye_hl'] * math.sqrt(ex['eye_open'])
    t = np.linspace(-1.0, 1.0, 21)
    x = ex_c + w * t
    f = np.clip(1.0 - t**2, 0.0, 1.0)**0.8
    t_out = side * t  # +1 at the outer corner
    # lid_slant > 0 lowers the inner part of the upper lid (anger),
    # < 0 makes it droop at the outer corner (sadness).
    upper = ey - hu * f * (1.0 + 0.75 * ex['lid_slant'] * t_out)
    upper = upper + 0.004 * np.clip(-t_out, 0, None)  # inner corner lower
    lower = ey + hl * f * (1.0 - 1.7 * ex['eye_smile'])
    lower = lower + 0.004 * np.clip(-t_out, 0, None)
    lower = np.maximum(lower, upper + 0.0025)
    white = _rgb(238, 236, 230) if idn['skin'][2] > 150 else _rgb(
        228, 224, 216)
    P.fill(np.concatenate([_curve(x, upper), _curve(x, lower)[::-1]]), white)

    def clipped_circle(cx, cy, r):
        pts = _ellipse_pts(cx, cy, r, r, n=28)
        pts[:, 0] = np.clip(pts[:, 0], x[0] + 0.1 * w, x[-1] - 0.1 * w)
        lo = np.interp(pts[:, 0], x, upper)
        hi = np.interp(pts[:, 0], x, lower)
        pts[:, 1] = np.clip(pts[:, 1], lo, hi)
        return pts

    r = w * idn['iris_r']
    icx = ex_c + idn['gaze'][0] * w
    icy = ey + idn['gaze'][1] * w + 0.1 * hl
    P.fill(clipped_circle(icx, icy, r), idn['iris'])
    P.fill(clipped_circle(icx, icy, r * 0.45), _rgb(12, 10, 10))
    hx, hy = icx - 0.35 * r, icy - 0.35 * r
    if np.interp(hx, x, upper) < hy - 0.15 * r:
        P.fill(_ellipse_pts(hx, hy, 0.16 * r, 0.16 * r, n=12),
               _rgb(250, 250, 250), alpha=0.9)
    # Lids: a dark lash line, a faint lower lid, the crease above.
    lash = _curve(np.append(x, x[-1] if side > 0 else x[0]),
                  np.append(upper, upper[-1]))
    if side > 0:
        lash[-1] += (0.006, -0.004)
    else:
        lash = np.concatenate([[lash[0] + (-0.006, -0.004)], lash[:-1]])
    P.line(lash, _rgb(25, 18, 16), 0.011)
    P.line(_curve(x[2:-2], lower[2:-2] + 0.002), idn['skin_dark'], 0.006,
           alpha=0.6)
    crease = upper - (0.35 * hu + 0.009)
    P.line(_curve(x[3:-3], crease[3:-3]), idn['skin_dark'], 0.005,
           alpha=0.45)
    if ex['eye_smile'] > 0.15:
        # Cheeks pushed up: a lower-lid bulge and crow's feet.
        a = min(1.0, ex['eye_smile'])
        P.line(_curve(x[3:-3], lower[3:-3] + 0.012), idn['skin_dark'], 0.005,
               alpha=0.5 * a)
        ox = ex_c + side * (w + 0.008)
        for dy in (-0.012, 0.0, 0.012):
            P.line([(ox, ey + dy * 0.6), (ox + side * 0.02, ey + dy * 1.5)],
                   idn['skin_dark'], 0.004, alpha=0.45 * a)


def _draw_hair_cap(P, idn, cx, cy, a, b):
    """Hair on top of the head, down to the hairline."""
    style = idn['hair_style']
    if style == 'bald':
        # A rim of hair above the ears.
        for side in (-1, 1):
            P.fill(_ellipse_pts(cx + side * a * 0.97, cy - 0.05, 0.03, 0.09),
                   idn['hair'], alpha=0.85)
        return
    outer = _ellipse_pts(cx, cy - 0.015, a * 1.07, b * 1.05, start=180,
                         end=360, n=36)
    hl = idn['hairline']
    top = cy - b * hl
    s = np.linspace(1.0, -1.0, 25)
    part = idn['part']
    hx = cx + a * 0.99 * s
    arch = np.sqrt(np.clip(1.0 - s**2, 0, 1))
    side_y = cy - 0.06  # hair at the temples
    hy = side_y + (top - side_y) * arch
    if style == 'fringe':
        # Bangs: a lower, jagged hairline with a side sweep.
        hy = cy - 0.07 - (b * 0.52 - 0.07) * arch**0.5
        hy = hy + 0.012 * (np.arange(len(s)) % 2) + 0.02 * part * s
    else:
        # Parting: a small dip of the hairline on one side.
        hy = hy - 0.025 * np.exp(-((s - part) / 0.2)**2)
    cap = np.concatenate([outer, _curve(hx, hy)])
    P.fill(cap, idn['hair'])
    # A few strands for texture.
    strand = _scale_color(idn['hair'], 1.25, 8)
    for k in range(4):
        xs = cx + a * (-0.6 + 0.4 * k + 0.15 * part)
        P.line([(xs, cy - b * 1.0), (xs + 0.05 * part, cy - b * 0.75)],
               strand, 0.004, alpha=0.35)
    if style == 'curly':
        for ang in np.linspace(185, 355, 11):
            px_, py_ = _ellipse_pts(cx, cy - 0.015, a * 1.07, b * 1.05,
                                    start=ang, end=ang, n=1)[0]
            P.ellipse(px_, py_, 0.045, 0.04, idn['hair'])


def _draw_face_canonical(P: _Painter, idn: dict, ex: dict):
    """Draws the head, hair and facial features (see module docstring)."""
    cx, cy = 0.5, idn['face_cy']
    a, b = idn['face_a'], idn['face_b']
    skin, dark, shadow = idn['skin'], idn['skin_dark'], idn['skin_shadow']

    # Body: shoulders and neck.
    P.ellipse(0.5, 1.32, 0.62, 0.3, idn['shirt'])
    neck = [(0.5 - 0.12, cy + b * 0.5), (0.5 + 0.12, cy + b * 0.5),
            (0.5 + 0.135, 1.12), (0.5, 1.2), (0.5 - 0.135, 1.12)]
    P.fill(neck, shadow)

    # Hair behind the head.
    style = idn['hair_style']
    if style in ('long', 'curly'):
        back = np.concatenate([
            _ellipse_pts(cx, cy - 0.02, a * 1.18, b * 1.1, start=180,
                         end=360, n=30),
            [(cx + a * 1.25, cy + b * (0.95 if style == 'long' else 0.6)),
             (cx - a * 1.25, cy + b * (0.95 if style == 'long' else 0.6))]
        ])
        P.fill(back, _scale_color(idn['hair'], 0.85))
    elif style == 'bun':
        P.ellipse(cx, cy - b * 1.12, 0.085, 0.07, idn['hair'])

    # Ears.
    for side in (-1, 1):
        ex_ = cx + side * a * 0.97
        P.ellipse(ex_, idn['eye_y'] + 0.045, 0.032, 0.062, shadow)
        start = -80 if side > 0 else 100
        P.line(_ellipse_pts(ex_ + side * 0.008, idn['eye_y'] + 0.045, 0.022,
                            0.045, start=start, end=start + 160, n=12),
               dark, 0.005, alpha=0.5)

    # Face outline: an egg, narrower toward the chin.
    t = np.linspace(0.0, 2.0 * np.pi, 60, endpoint=False)
    taper = 1.0 - idn['jaw'] * np.clip(np.sin(t), 0, None)**2
    face = _curve(cx + a * np.cos(t) * taper, cy + b * np.sin(t))
    P.fill(face, skin)
    # Side shading from the key light.
    lit = idn['light']
    shade_side = -1.0 if lit > 0 else 1.0
    for thr in (0.45, 0.7, 0.88):
        P.fill(face[np.cos(t) * shade_side > thr], dark,
               alpha=0.05 + 0.04 * abs(lit))

    mouth = _mouth_geometry(idn, ex)

    # Beard (under the features).
    beard = idn['beard']
    if beard != 'none':
        lower = face[(np.sin(t) > 0.15)]
        lower = lower[np.argsort(np.arctan2(lower[:, 1] - cy,
                                            lower[:, 0] - cx))]
        if beard == 'goatee':
            region = _ellipse_pts(0.5, mouth['lower_out'].max() + 0.05,
                                  mouth['mw'] * 0.9, 0.07)
        else:
            lip_top = mouth['upper_out'].min() - 0.012
            region = np.concatenate([
                lower[::-1],
                [(cx + a * 0.85, cy + 0.04),
                 (0.5 + mouth['mw'] + 0.025, lip_top),
                 (0.5 - mouth['mw'] - 0.025, lip_top),
                 (cx - a * 0.85, cy + 0.04)]
            ])
        P.fill(region, idn['hair'], alpha=0.85 if beard != 'stubble' else
               0.3)

    # Cheek blush.
    for side in (-1, 1):
        P.ellipse(0.5 + side * (idn['eye_dx'] + 0.03),
                  idn['eye_y'] + 0.13 - 0.02 * min(1.0, ex['eye_smile']),
                  0.05, 0.032, _rgb(220, 90, 90), alpha=idn['blush'] *
                  (1.0 + 0.5 * min(1.0, ex['eye_smile'])))

    # Forehead wrinkles (surprise, fear), drawn before the hair.
    brows = [_brow_geometry(idn, ex, s) for s in (-1, 1)]
    if ex['forehead'] > 0.15:
        brow_top = min(min(p[1] for p in g) for g in brows)
        for k in range(3):
            y = brow_top - 0.028 - 0.024 * k
            half = 0.11 - 0.015 * k if ex['brow_pull'] < 0.01 else 0.07
            xs = np.linspace(0.5 - half, 0.5 + half, 9)
            ys = y + 0.012 * ((xs - 0.5) / half)**2
            P.line(_curve(xs, ys), dark, 0.005,
                   alpha=min(0.75, 0.5 * ex['forehead']))

    _draw_hair_cap(P, idn, cx, cy, a, b)

    # Frown lines between the brows (anger, fear).
    if ex['frown'] > 0.15:
        y0 = brows[0][0][1] + 0.004
        for side in (-1, 1):
            top = (0.5 + side * 0.012, y0)
            bottom = (0.5 + side * 0.009, y0 + 0.035)
            P.line([top, bottom], dark, 0.005,
                   alpha=min(0.8, 0.6 * ex['frown']))

    # Nose.
    ny = idn['eye_y'] + idn['nose_len'] - 0.006 * ex['nose_wrinkle']
    nw = idn['nose_w'] * (1.0 + 0.12 * ex['nose_wrinkle'])
    P.line([(0.5 + shade_side * 0.018, idn['eye_y'] + 0.01),
            (0.5 + shade_side * 0.02, ny - 0.035),
            (0.5 + shade_side * nw * 0.55, ny - 0.012)], dark, 0.006,
           alpha=0.35)
    for side in (-1, 1):
        start = -80 if side > 0 else 100
        P.line(_ellipse_pts(0.5 + side * nw * 0.6, ny, nw * 0.45, 0.012,
                            start=start, end=start + 160, n=12), dark, 0.006,
               alpha=0.7)
        P.ellipse(0.5 + side * nw * 0.35, ny + 0.008, 0.011, 0.005,
                  _rgb(40, 25, 20), alpha=0.6)
    if ex['nose_wrinkle'] > 0.15:  # disgust
        for k in range(3):
            y = idn['eye_y'] + 0.02 + 0.013 * k
            P.line([(0.5 - 0.022, y + 0.003), (0.5, y - 0.002),
                    (0.5 + 0.022, y + 0.003)], dark, 0.005,
                   alpha=min(0.85, 0.65 * ex['nose_wrinkle']))
    if ex['nasolabial'] > 0.15:  # smile lines (happiness, disgust)
        for side in (-1, 1):
            corner_x = 0.5 + side * (mouth['mw'] + 0.015)
            corner_y = mouth['centre'][0 if side < 0 else -1] + 0.012
            P.line(_curve(
                [0.5 + side * nw * 1.25, 0.5 + side * (nw * 1.25 + 0.03),
                 corner_x], [ny - 0.01, ny + 0.03, corner_y]), dark, 0.006,
                alpha=min(0.8, 0.55 * ex['nasolabial']))

    # Eyes and brows.
    for side in (-1, 1):
        _draw_eye(P, idn, ex, side)
    th = idn['brow_th'] * (1.0 + 0.25 * (ex['frown'] > 0.5))
    for g in brows:
        P.fill(_thick_curve(g[0], g[1], g[2], th, th * 0.55), idn['brow'])

    # Mouth.
    x = mouth['x']
    lips_dark = _scale_color(idn['lips'], 0.78)
    opening = float(np.max(mouth['lower_in'] - mouth['upper_in']))
    if opening > 0.003:
        cavity = np.concatenate([_curve(x, mouth['upper_in']),
                                 _curve(x, mouth['lower_in'])[::-1]])
        P.fill(cavity, _rgb(70, 22, 28))
        teeth_c = _rgb(236, 232, 218)
        th_ = 0.016
        sel = np.abs(mouth['t']) < 0.82
        if ex['teeth'] in ('upper', 'both'):
            top = mouth['upper_in'][sel]
            bot = np.minimum(top + th_, mouth['lower_in'][sel])
            P.fill(np.concatenate([_curve(x[sel], top),
                                   _curve(x[sel], bot)[::-1]]), teeth_c)
        if ex['teeth'] in ('lower', 'both'):
            bot = mouth['lower_in'][sel]
            top = np.maximum(bot - th_ * 0.8, mouth['upper_in'][sel])
            P.fill(np.concatenate([_curve(x[sel], top),
                                   _curve(x[sel], bot)[::-1]]), teeth_c)
        if ex['teeth'] == 'both' and opening < 0.04:
            P.line(_curve(x[sel], mouth['centre'][sel]), _rgb(120, 110, 100),
                   0.003)
    P.fill(np.concatenate([_curve(x, mouth['upper_out']),
                           _curve(x, mouth['upper_in'])[::-1]]), lips_dark)
    P.fill(np.concatenate([_curve(x, mouth['lower_in']),
                           _curve(x, mouth['lower_out'])[::-1]]),
           idn['lips'])
    if opening <= 0.003:
        P.line(_curve(x, mouth['centre']), _rgb(60, 25, 30), 0.011)
    # Lower-lip shadow (pout) and mouth-corner dimples.
    P.line(_curve(x[8:-8], mouth['lower_out'][8:-8] + 0.006), dark, 0.006,
           alpha=0.25 + 0.25 * max(0.0, ex['lip_thick'] - 1.0))
    if idn['moustache']:
        P.fill(np.concatenate([
            _curve(x, mouth['upper_out'] - 0.003),
            _curve(x, mouth['upper_out'] - 0.022)[::-1]
        ]), idn['hair'], alpha=0.9)

    # Glasses.
    if idn['glasses']:
        gc = idn['glasses_color']
        rx, ry = idn['eye_w'] * 1.6, 0.048
        for side in (-1, 1):
            gx = 0.5 + side * idn['eye_dx']
            if idn['glasses_round']:
                frame = _ellipse_pts(gx, idn['eye_y'] + 0.005, rx, ry)
            else:
                frame = np.array([(gx - rx, idn['eye_y'] - ry),
                                  (gx + rx, idn['eye_y'] - ry),
                                  (gx + rx * 0.95, idn['eye_y'] + ry),
                                  (gx - rx * 0.95, idn['eye_y'] + ry)])
            P.fill(frame, _rgb(200, 220, 230), alpha=0.12)
            P.line(frame, gc, 0.008, closed=True)
            P.line([(gx + side * rx, idn['eye_y'] - 0.01),
                    (0.5 + side * a * 0.97, idn['eye_y'] + 0.01)], gc, 0.008)
        P.line([(0.5 - idn['eye_dx'] + rx, idn['eye_y'] - 0.005),
                (0.5, idn['eye_y'] - 0.015),
                (0.5 + idn['eye_dx'] - rx, idn['eye_y'] - 0.005)], gc, 0.007)


# --------------------------------------------------------------------------
# Scenes and image degradations
# --------------------------------------------------------------------------
def _draw_background(img: np.ndarray, rng: np.random.Generator):
    """Fills ``img`` with a gradient, low-frequency texture and clutter."""
    h, w = img.shape[:2]
    c1, c2 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = (xx * math.cos(ang) + yy * math.sin(ang))
    g = (g - g.min()) / max(1e-6, float(g.max() - g.min()))
    bg = c1[None, None] * (1 - g[..., None]) + c2[None, None] * g[..., None]
    tex = rng.normal(0, 18, (4, 5, 3)).astype(np.float32)
    bg += cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC)
    img[:] = np.clip(bg, 0, 255).astype(np.uint8)
    s = 16  # 4 bits of sub-pixel precision
    for _ in range(int(rng.integers(2, 9))):
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        kind = rng.integers(5)
        x0, y0 = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        size = rng.uniform(0.05, 0.45) * min(h, w)
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 5))
        if kind == 0:
            x1, y1 = x0 + rng.uniform(0.3, 2) * size, y0 + rng.uniform(
                0.3, 2) * size
            cv2.rectangle(img, (int(x0 * s), int(y0 * s)),
                          (int(x1 * s), int(y1 * s)), color, thick,
                          cv2.LINE_AA, 4)
        elif kind == 1:
            cv2.circle(img, (int(x0 * s), int(y0 * s)), int(size * s / 2),
                       color, thick, cv2.LINE_AA, 4)
        elif kind == 2:
            x1, y1 = rng.uniform(0, w), rng.uniform(0, h)
            start = (int(x0 * s), int(y0 * s))
            end = (int(x1 * s), int(y1 * s))
            cv2.line(img, start, end, color, int(rng.integers(1, 6)),
                     cv2.LINE_AA, 4)
        elif kind == 3:
            pts = np.array([x0, y0]) + rng.uniform(-size, size, (
                int(rng.integers(3, 7)), 2))
            cv2.fillPoly(img, [np.round(pts * s).astype(np.int32)], color,
                         cv2.LINE_AA, 4)
        else:  # stripes (blinds, shelves, tiles)
            step = rng.uniform(6, 20)
            horizontal = rng.random() < 0.5
            n = int((h if horizontal else w) / step)
            for i in range(0, n, 2):
                p = int(i * step)
                if horizontal:
                    cv2.line(img, (0, p), (w, p), color, 2, cv2.LINE_AA)
                else:
                    cv2.line(img, (p, 0), (p, h), color, 2, cv2.LINE_AA)
    if rng.random() < 0.6:  # out-of-focus background
        cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 2.5), dst=img)
    # Fade the clutter a little toward the mean colour.
    fade = rng.uniform(0.15, 0.6)
    flat = np.empty_like(img)
    flat[:] = np.round(cv2.mean(img)[:3]).astype(np.uint8)
    cv2.addWeighted(img, 1.0 - fade, flat, fade, 0.0, dst=img)


def _degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting and colour jitter, blur and Gaussian noise."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    # Directional light: a linear brightness ramp across the picture.
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = ((xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)) / \
        math.hypot(h, w)
    f *= (1.0 + rng.uniform(0.0, 0.6) * ramp)[..., None]
    # Contrast, brightness, white balance, gamma.
    gain = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    f = (f - 128.0) * rng.uniform(0.75, 1.15) + 128.0 + rng.uniform(-25, 25)
    f *= gain
    lut = 255.0 * (np.arange(256) / 255.0)**rng.uniform(0.8, 1.25)
    img = cv2.LUT(np.clip(f + 0.5, 0, 255).astype(np.uint8),
                  np.clip(lut + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.1))
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    noise *= rng.uniform(1.0, 7.0)
    noise += img
    return np.clip(noise + 0.5, 0, 255).astype(np.uint8)


def _affine(cx, cy, side, angle_deg):
    """2x3 matrix mapping the canonical face frame to pixels so that the
    aligned-crop box becomes a square of ``side`` pixels centred on
    ``(cx, cy)``, rotated by ``angle_deg`` (counter-clockwise on screen)."""
    a = math.radians(angle_deg)
    scale = side / _CROP_SIDE
    ca, sa = math.cos(a) * scale, math.sin(a) * scale
    # Screen y points down: counter-clockwise is [[c, s], [-s, c]].
    m = np.array([[ca, sa, 0.0], [-sa, ca, 0.0]])
    m[:, 2] = np.array([cx, cy]) - m[:, :2] @ np.array(_CROP_CENTRE)
    return m


def _check_expression(expression) -> str:
    if isinstance(expression, str):
        for name in EXPRESSIONS:
            if name.lower() == expression.lower():
                return name
    raise ValueError(f'Unknown expression {expression!r}; expected one of '
                     f'{EXPRESSIONS}')


def draw_face(expression: str, rng: np.random.Generator,
              size: int = 100,
              identity: Optional[dict] = None) -> np.ndarray:
    """Draws one upright synthetic face showing ``expression``.

    The identity (face shape, skin, hair, eyes, accessories; unless given)
    and the expression intensity are drawn from ``rng``; the face fills a
    ``size`` x ``size`` image the way an aligned RAF-DB crop does, over a
    random cluttered background. No pose, lighting, blur or noise is
    applied: :func:`generate_synthetic_rafdb` adds those.

    Args:
        expression: one of :data:`EXPRESSIONS` (case-insensitive).
        rng: the random generator; the same state gives the same face.
        size: side of the square output image in pixels.
        identity: the person to draw, from :func:`sample_identity`; None
            draws a new one from ``rng``.

    Returns:
        np.ndarray: a ``(size, size, 3)`` BGR uint8 image.
    """
    expression = _check_expression(expression)
    img = np.zeros((size, size, 3), np.uint8)
    _draw_background(img, rng)
    idn = _sample_identity(rng) if identity is None else identity
    ex = _sample_expression(expression, rng)
    _draw_face_canonical(_Painter(img, _affine(size / 2, size / 2, size, 0)),
                         idn, ex)
    return img


def _render_sample(expression: str, rng: np.random.Generator,
                   aligned_size: int,
                   original_size: Tuple[int, int],
                   identity: Optional[dict] = None):
    """One (original scene, aligned crop) pair, both BGR uint8; the person
    is ``identity``, or a new one drawn from ``rng`` if None."""
    h, w = original_size
    scene = np.zeros((h, w, 3), np.uint8)
    _draw_background(scene, rng)
    idn = _sample_identity(rng) if identity is None else identity
    ex = _sample_expression(expression, rng)
    # Pose: the face box (the aligned crop) inside the scene.
    angle = rng.uniform(-15.0, 15.0)
    side = rng.uniform(0.5, 0.72) * min(h, w)
    half_ext = 0.5 * side * (abs(math.cos(math.radians(angle))) +
                             abs(math.sin(math.radians(angle))))
    half_ext = min(half_ext, 0.5 * min(h, w))
    cx = rng.uniform(half_ext, w - half_ext)
    cy = rng.uniform(half_ext, h - half_ext)
    _draw_face_canonical(_Painter(scene, _affine(cx, cy, side, angle)), idn,
                         ex)
    scene = _degrade(scene, rng)
    # Aligned crop: the face box with a small residual alignment error.
    res_angle = angle + float(np.clip(rng.normal(0.0, 2.5), -6.0, 6.0))
    res_side = side * rng.uniform(0.95, 1.06)
    res_cx = cx + rng.normal(0.0, 0.02) * side
    res_cy = cy + rng.normal(0.0, 0.02) * side
    m = _affine(res_cx, res_cy, res_side, res_angle)
    # Crop pixel p lies at canonical c0 + (p + 0.5) * _CROP_SIDE / size.
    k = _CROP_SIDE / aligned_size
    x0 = _CROP_CENTRE[0] - _CROP_SIDE / 2 + 0.5 * k
    y0 = _CROP_CENTRE[1] - _CROP_SIDE / 2 + 0.5 * k
    to_canon = np.array([[k, 0, x0], [0, k, y0], [0, 0, 1.0]])
    m_inv = m @ to_canon
    m_inv[:, 2] -= 0.5  # pixel centres
    aligned = cv2.warpAffine(scene, m_inv, (aligned_size, aligned_size),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REPLICATE)
    quality = (int(rng.integers(70, 96)), int(rng.integers(75, 96)))
    return scene, aligned, quality


# --------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------
def _class_counts(num: int, weights: Sequence[float]) -> np.ndarray:
    """Splits ``num`` samples over the classes by largest remainder."""
    w = np.asarray(weights, dtype=np.float64)
    exact = num * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind='stable')
    counts[order[:num - counts.sum()]] += 1
    return counts


def _write_sample(job):
    """Renders and writes one sample (run in worker processes too)."""
    (root, name, label, seed, split_code, index, aligned_size,
     original_size) = job
    rng = np.random.default_rng([seed, split_code, index])
    scene, aligned, (q_orig, q_al) = _render_sample(
        EXPRESSIONS[label - 1], rng, aligned_size, original_size)
    stem = osp.splitext(name)[0]
    for path, img, q in (
        (osp.join(root, 'Image', 'original', name), scene, q_orig),
        (osp.join(root, 'Image', 'aligned', f'{stem}_aligned.jpg'), aligned,
         q_al)):
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise IOError(f'Could not encode {path}')
        with open(path, 'wb') as f:
            f.write(buf.tobytes())
    return name


def _write_samples(jobs):
    for job in jobs:
        _write_sample(job)


def _run_in_processes(jobs, workers, write=_write_samples):
    """Renders ``jobs`` with ``write(jobs)`` in ``workers`` processes
    (every sample has its own seed, so the split does not change the
    output)."""
    import multiprocessing as mp

    # Fork where available: nothing is pickled and nothing re-imported, so
    # the module also works when loaded on its own (see the CLI tool).
    method = 'fork' if 'fork' in mp.get_all_start_methods() else None
    ctx = mp.get_context(method)
    procs = [
        ctx.Process(target=write, args=(jobs[i::workers], ))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f'{len(failed)} of {workers} worker processes '
                           f'failed (exit codes {failed}); see the errors '
                           'above')


def generate_synthetic_rafdb(out_dir: str,
                             num_train: int = 1400,
                             num_test: int = 350,
                             seed: int = 0,
                             aligned_size: int = 100,
                             original_size: Tuple[int, int] = (160, 200),
                             class_weights: Optional[Sequence[float]] = None,
                             workers: int = 1) -> Dict:
    """Writes a synthetic facial expression dataset in the RAF-DB layout.

    Creates ``<out_dir>/basic/`` with ``EmoLabel/list_patition_label.txt``
    (train lines, then test lines, each ``"<name> <label>"`` with RAF-DB
    labels 1..7), ``Image/original/<name>`` (the face in a scene of
    ``original_size``) and ``Image/aligned/<stem>_aligned.jpg`` (the aligned
    ``aligned_size`` square face crop). Names are ``train_%05d.jpg`` and
    ``test_%04d.jpg``, numbered from 1 as in RAF-DB. Existing files with the
    same names are overwritten; other files are left alone (the label file
    only lists the new ones).

    This is a quick-start and test dataset, not a benchmark; see the module
    docstring for what the expressions look like. It is fully synthetic (no
    real faces), so it has no licence restrictions.

    The class of each sample is fixed by ``class_weights`` (largest-remainder
    split of each split's size, then shuffled), so that with the default
    uniform weights every class gets ``num // 7`` or one more samples. Each
    sample is drawn from its own generator seeded by ``(seed, split,
    index)``: the output is identical for any ``workers``.

    Args:
        out_dir: the dataset root; ``basic/`` is created inside it.
        num_train: number of training samples.
        num_test: number of test samples.
        seed: random seed; the same seed gives byte-identical files.
        aligned_size: side of the aligned crops (RAF-DB: 100).
        original_size: ``(height, width)`` of the original scene images.
        class_weights: relative class frequencies in :data:`EXPRESSIONS`
            order (e.g. :data:`RAFDB_CLASS_FREQUENCIES`); uniform if None.
        workers: number of processes used to render the images.

    Returns:
        dict: ``root`` (the ``basic/`` folder), ``label_file``,
        ``num_train``, ``num_test``, ``classes`` (:data:`EXPRESSIONS`),
        ``class_counts`` (``{'train': {name: n}, 'test': {name: n}}``),
        ``seed``, ``aligned_size`` and ``original_size``.
    """
    if num_train < 0 or num_test < 0:
        raise ValueError('num_train and num_test must be >= 0')
    if num_train > 99999 or num_test > 9999:
        raise ValueError('RAF-DB names allow at most 99999 train and 9999 '
                         'test images')
    if aligned_size < 8:
        raise ValueError(f'aligned_size must be >= 8, got {aligned_size}')
    original_size = (int(original_size[0]), int(original_size[1]))
    if min(original_size) < 16:
        raise ValueError(f'original_size too small: {original_size}')
    if class_weights is None:
        class_weights = [1.0] * len(EXPRESSIONS)
    if len(class_weights) != len(EXPRESSIONS) or min(class_weights) < 0 or \
            sum(class_weights) <= 0:
        raise ValueError('class_weights must be 7 non-negative numbers with '
                         'a positive sum')

    root = osp.join(osp.abspath(out_dir), 'basic')
    for sub in ('EmoLabel', osp.join('Image', 'original'),
                osp.join('Image', 'aligned')):
        os.makedirs(osp.join(root, sub), exist_ok=True)

    jobs, lines = [], []
    class_counts = {}
    for split, num, fmt in (('train', num_train, 'train_%05d.jpg'),
                            ('test', num_test, 'test_%04d.jpg')):
        code = _SPLIT_CODES[split]
        counts = _class_counts(num, class_weights)
        labels = np.repeat(np.arange(1, len(EXPRESSIONS) + 1), counts)
        np.random.default_rng([seed, code, 2**31 - 1]).shuffle(labels)
        class_counts[split] = {
            name: int(c)
            for name, c in zip(EXPRESSIONS, counts)
        }
        for i, label in enumerate(labels):
            name = fmt % (i + 1)
            lines.append(f'{name} {int(label)}\n')
            jobs.append((root, name, int(label), int(seed), code, i,
                         int(aligned_size), original_size))

    workers = max(1, min(int(workers), len(jobs)))
    if workers > 1:
        _run_in_processes(jobs, workers)
    else:
        _write_samples(jobs)

    label_file = osp.join(root, LABEL_FILE)
    with open(label_file, 'w', newline='\n') as f:
        f.writelines(lines)

    return dict(
        root=root,
        label_file=label_file,
        num_train=int(num_train),
        num_test=int(num_test),
        classes=EXPRESSIONS,
        class_counts=class_counts,
        seed=int(seed),
        aligned_size=int(aligned_size),
        original_size=original_size)


# --------------------------------------------------------------------------
# Paired data: one person, every expression
# --------------------------------------------------------------------------
#: The person id in the file names :func:`generate_synthetic_pairs` writes
#: (``p0001_1.jpg`` -> ``p0001``): FERFolder's ``subject_pattern``.
PAIRS_SUBJECT_PATTERN = r'^(p\d+)_'

# Generator seeds of the paired data: identity [seed, _PAIRS_STREAM,
# person], image [seed, _PAIRS_STREAM, person, expression, take]; apart
# from the RAF-DB generator's [seed, split, index].
_PAIRS_STREAM = 0x5041


def _pair_scene_size(size: int) -> Tuple[int, int]:
    """The scene the aligned ``size`` crop is cut from (RAF-DB's 160x200
    for 100x100 crops)."""
    return max(16, int(round(1.6 * size))), max(16, 2 * size)


def _write_pair_sample(job):
    """Renders and writes one image of one person (run in worker processes
    too)."""
    path, expression_index, seed, person, take, size = job
    identity = _sample_identity(
        np.random.default_rng([seed, _PAIRS_STREAM, person]))
    rng = np.random.default_rng(
        [seed, _PAIRS_STREAM, person, expression_index + 1, take])
    _, aligned, (_, quality) = _render_sample(
        EXPRESSIONS[expression_index], rng, size, _pair_scene_size(size),
        identity=identity)
    ok, buf = cv2.imencode('.jpg', aligned,
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise IOError(f'Could not encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())
    return path


def _write_pair_samples(jobs):
    for job in jobs:
        _write_pair_sample(job)


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f'generate_synthetic_pairs: {name} must be an int '
                         f'>= {minimum}, got {value!r}')
    return int(value)


def generate_synthetic_pairs(out_dir: str,
                             num_train_subjects: int = 100,
                             num_test_subjects: int = 25,
                             seed: int = 0,
                             size: int = 100,
                             takes: int = 1,
                             workers: int = 1) -> Dict:
    """Writes synthetic persons, each with every expression, in the
    FERFolder layout: paired data for neutral-reference models.

    One identity is drawn per person and rendered with each of the seven
    :data:`EXPRESSIONS` (Neutral included), ``takes`` times each; every
    image has its own expression intensity, background, pose, alignment
    error, lighting, blur and noise (see the module docstring). Written
    as aligned ``size`` x ``size`` JPEG face crops::

        <out_dir>/train/<Expression>/<person>_<take>.jpg
        <out_dir>/test/<Expression>/<person>_<take>.jpg

    Persons are ``p0001``, ``p0002``, ...: the first ``num_train_subjects``
    in ``train``, the next ``num_test_subjects`` in ``test``, so no person
    is in both splits (subject-independent). Takes are numbered from 1.
    Read a split with ``FERFolder(out_dir, classes=EXPRESSIONS,
    split='train', subject_pattern=PAIRS_SUBJECT_PATTERN)``. Existing files
    with the same names are overwritten; other files are left alone.

    A quick-start and test dataset, not a benchmark; fully synthetic (no
    real faces). Each person's identity comes from a generator seeded by
    ``(seed, person)`` and each image from one seeded by ``(seed, person,
    expression, take)``: the output is the same for any ``workers``.

    Args:
        out_dir: the dataset root; ``train/`` and ``test/`` are created in
            it (``test/`` only with test persons).
        num_train_subjects: number of training persons (>= 1).
        num_test_subjects: number of test persons (>= 0).
        seed: random seed; the same seed gives byte-identical files.
        size: side of the square face images in pixels (>= 8).
        takes: images of each person and expression (>= 1).
        workers: number of processes used to render the images.

    Returns:
        dict: ``root`` (absolute ``out_dir``), ``classes``
        (:data:`EXPRESSIONS`), ``subjects`` (``{'train': [ids], 'test':
        [ids]}``), ``num_images`` (``{'train': n, 'test': n}``),
        ``subject_pattern`` (:data:`PAIRS_SUBJECT_PATTERN`), ``seed``,
        ``size`` and ``takes``.
    """
    num_train_subjects = _check_count('num_train_subjects',
                                      num_train_subjects, 1)
    num_test_subjects = _check_count('num_test_subjects', num_test_subjects,
                                     0)
    takes = _check_count('takes', takes, 1)
    size = _check_count('size', size, 8)
    root = osp.abspath(out_dir)
    jobs = []
    subjects = {'train': [], 'test': []}
    people = [('train', p) for p in range(1, num_train_subjects + 1)]
    people += [('test', num_train_subjects + p)
               for p in range(1, num_test_subjects + 1)]
    for split, person in people:
        pid = f'p{person:04d}'
        subjects[split].append(pid)
        for e, expression in enumerate(EXPRESSIONS):
            folder = osp.join(root, split, expression)
            os.makedirs(folder, exist_ok=True)
            for take in range(1, takes + 1):
                jobs.append((osp.join(folder, f'{pid}_{take}.jpg'), e,
                             int(seed), person, take, size))

    workers = max(1, min(int(workers), len(jobs)))
    if workers > 1:
        _run_in_processes(jobs, workers, write=_write_pair_samples)
    else:
        _write_pair_samples(jobs)

    per_person = len(EXPRESSIONS) * takes
    return dict(
        root=root,
        classes=EXPRESSIONS,
        subjects=subjects,
        num_images={
            split: len(ids) * per_person
            for split, ids in subjects.items()
        },
        subject_pattern=PAIRS_SUBJECT_PATTERN,
        seed=int(seed),
        size=size,
        takes=takes)
