"""Run an exported ferpretrain model with ONNX Runtime, without PyTorch.

``tools/deployment/pytorch2onnx.py`` (:func:`ferpretrain.apis.onnx_export.
export_onnx`) writes the network from normalised input to class logits as
an ONNX graph, and what the graph does *not* hold into the file's
``metadata_props``: the class names, the input size, the resize method, the
channel order and the normalisation the config's test pipeline and data
preprocessor apply. This module reads them back and prepares faces the same
way, so that a face gives the same logits here as through the config in
PyTorch::

    from ferpretrain.apis.onnx_backend import ONNXFERModel
    model = ONNXFERModel('apvit_raf.onnx')
    probs = model.predict([cv2.imread('face.jpg')])   # (1, 7)
    print(model.info.classes[probs[0].argmax()])

Imports: numpy and OpenCV at import time; onnxruntime when a model is
opened, onnx when metadata is written. Never torch or mmengine: a deployment
needs neither (this module must not import anything of ferpretrain that
does; ``tests/test_deployment`` imports it with torch blocked).

The metadata (:class:`OnnxModelInfo`), one ``metadata_props`` entry a
field, each value JSON:

=====================  =====================================================
key                    value
=====================  =====================================================
``ferpretrain_onnx``   the schema version, ``1`` (marks a ferpretrain file)
``classes``            class names in logit order
``input_size``         ``[H, W]`` the network takes
``interpolation``      the resize of the test pipeline (OpenCV, as mmcv's
                       ``Resize``: ``"bilinear"`` by default)
``channel_order``      ``"rgb"`` or ``"bgr"``: what the *network* sees
                       (images are loaded BGR; ``to_rgb=True`` flips them)
``mean``, ``std``      per channel, in that order, on the 0..255 scale
``faces_per_input``    1, or 2 for Difference-of-Embeddings pairs: input
                       ``(B, 2, 3, H, W)``, the neutral face first
``model_name``         the model-zoo name (metafile) or the config's name
``config``             the config it was exported from
``checkpoint``         the checkpoint's file name
``ferpretrain_version`` the exporting ferpretrain's version
``opset``              the ONNX opset
``notes``              what the export left out (e.g. AffectNet's face-box
                       crop: a face crop is expected), as a list of strings
=====================  =====================================================

What a face goes through (:func:`preprocess_faces`), identical to
``LoadFERImage -> Resize -> PackInputs -> ClsDataPreprocessor``: a gray
image is replicated to three channels, resized with ``cv2.resize`` to
``input_size`` (mmcv's ``Resize`` calls the same function with the same
flag), converted to float32, flipped to RGB if the network takes RGB,
normalised ``(x - mean) / std`` in float32, and laid out channels first.
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field, fields
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'METADATA_KEY', 'METADATA_VERSION', 'DEPLOY_INSTALL_HINT',
    'OnnxMetadataError', 'OnnxModelInfo', 'ONNXFERModel', 'preprocess_faces',
    'read_model_info', 'set_model_info', 'write_model_info', 'softmax'
]

#: The key that marks a file as exported by ferpretrain; its value is the
#: schema version.
METADATA_KEY = 'ferpretrain_onnx'
METADATA_VERSION = 1

#: How to get the optional deployment dependencies.
DEPLOY_INSTALL_HINT = ('pip install -e ".[deploy]" (in a source checkout) '
                       'or pip install "ferpretrain[deploy]"')

#: mmcv's ``Resize`` interpolation names -> OpenCV flags (mmcv's
#: ``cv2_interp_codes``; the cv2 backend is the only one exported).
INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
    'lanczos': cv2.INTER_LANCZOS4,
}

_EXPORT_HINT = ('Export it with tools/deployment/pytorch2onnx.py CONFIG '
                'CHECKPOINT --out FILE.onnx, which writes the preprocessing '
                'and class names into the file.')


class OnnxMetadataError(ValueError):
    """An ONNX file lacks ferpretrain's metadata, or holds invalid values;
    the message names the file and the fix."""


@dataclass
class OnnxModelInfo:
    """What an exported model needs besides its graph (see the module
    docstring for the stored form).

    Attributes:
        classes (tuple[str]): Class names in logit order.
        input_size (tuple[int, int]): ``(H, W)`` of the network input.
        mean (tuple[float]): Per-channel mean, 0..255 scale, in
            ``channel_order``.
        std (tuple[float]): Per-channel standard deviation, same order.
        channel_order (str): ``'rgb'`` or ``'bgr'``: the channel order of
            the network input (faces are given BGR, as OpenCV reads them).
        interpolation (str): The resize (a key of :data:`INTERPOLATIONS`).
        faces_per_input (int): 1, or 2 for models of (neutral, target)
            pairs, whose input is ``(B, 2, 3, H, W)``.
        model_name (str): The model-zoo name, else the config's name.
        config (str): The config the model was exported from.
        checkpoint (str): The checkpoint's file name.
        ferpretrain_version (str): The exporting ferpretrain's version.
        opset (int): The ONNX opset of the graph.
        notes (tuple[str]): What the export left out of the test pipeline,
            and why.
    """
    classes: Tuple[str, ...]
    input_size: Tuple[int, int]
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    channel_order: str = 'rgb'
    interpolation: str = 'bilinear'
    faces_per_input: int = 1
    model_name: str = ''
    config: str = ''
    checkpoint: str = ''
    ferpretrain_version: str = ''
    opset: int = 17
    notes: Tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        # Lists (from JSON or a caller) become tuples: the info compares
        # and hashes the same whichever way it was made.
        self.classes = tuple(self.classes)
        self.input_size = tuple(self.input_size)
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)
        self.notes = tuple(self.notes)

    @property
    def input_shape(self) -> Tuple:
        """The network input's shape, ``'batch'`` for the dynamic axis."""
        face = (3, ) + tuple(self.input_size)
        pair = (2, ) if self.faces_per_input == 2 else ()
        return ('batch', ) + pair + face

    def validate(self, source: str = 'the metadata') -> 'OnnxModelInfo':
        """Check every field; raise :class:`OnnxMetadataError` naming
        ``source`` and the field otherwise. Returns ``self``."""

        def bad(name, expected):
            value = getattr(self, name)
            raise OnnxMetadataError(
                f'{source}: {name}={value!r} is invalid: expected '
                f'{expected}. {_EXPORT_HINT}')

        if not self.classes or not all(
                isinstance(c, str) and c for c in self.classes):
            bad('classes', 'a non-empty list of class names')
        if len(set(self.classes)) != len(self.classes):
            bad('classes', 'distinct names')
        if len(self.input_size) != 2 or not all(
                _is_int(v) and v > 0 for v in self.input_size):
            bad('input_size', '[H, W], two positive integers')
        for name in ('mean', 'std'):
            values = getattr(self, name)
            if len(values) != 3 or not all(np.isfinite(values)):
                bad(name, 'three finite numbers, one a channel')
        if not all(v > 0 for v in self.std):
            bad('std', 'positive numbers')
        if self.channel_order not in ('rgb', 'bgr'):
            bad('channel_order', '"rgb" or "bgr"')
        if self.interpolation not in INTERPOLATIONS:
            bad('interpolation', f'one of {sorted(INTERPOLATIONS)}')
        if self.faces_per_input not in (1, 2):
            bad('faces_per_input', '1, or 2 for (neutral, target) pairs')
        if not _is_int(self.opset) or self.opset < 7:
            bad('opset', 'an ONNX opset number')
        return self

    def to_metadata(self) -> Dict[str, str]:
        """The ``metadata_props`` entries: ``{field: JSON value}`` and the
        schema marker."""
        self.validate()
        props = {METADATA_KEY: json.dumps(METADATA_VERSION)}
        for key, value in asdict(self).items():
            props[key] = json.dumps(list(value) if isinstance(
                value, tuple) else value, ensure_ascii=False)
        return props

    @classmethod
    def from_metadata(cls, props: Mapping[str, str],
                      source: str = 'the ONNX file') -> 'OnnxModelInfo':
        """Read the info back from ``metadata_props`` entries.

        Raises:
            OnnxMetadataError: ``source`` has no ferpretrain metadata, a
                newer schema, a missing or invalid field.
        """
        if METADATA_KEY not in props:
            raise OnnxMetadataError(
                f'{source} has no ferpretrain metadata (the class names, '
                'input size, channel order and normalisation the model '
                'expects), so its inputs cannot be prepared. '
                f'{_EXPORT_HINT}')
        version = _json(props, METADATA_KEY, source)
        if not _is_int(version) or version > METADATA_VERSION:
            raise OnnxMetadataError(
                f'{source}: ferpretrain metadata version {version!r}; this '
                f'ferpretrain reads version {METADATA_VERSION}. Upgrade '
                'ferpretrain, or export the model again with this one.')
        values = {}
        for spec in fields(cls):
            if spec.name in props:
                values[spec.name] = _json(props, spec.name, source)
        required = ('classes', 'input_size', 'mean', 'std')
        missing = [k for k in required if k not in values]
        if missing:
            raise OnnxMetadataError(
                f'{source}: the ferpretrain metadata lacks '
                f'{", ".join(missing)}. {_EXPORT_HINT}')
        try:
            info = cls(**values)
        except (TypeError, ValueError) as error:
            raise OnnxMetadataError(
                f'{source}: invalid ferpretrain metadata ({error}). '
                f'{_EXPORT_HINT}') from None
        return info.validate(source)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, bool)


def _json(props: Mapping[str, str], key: str, source: str):
    try:
        return json.loads(props[key])
    except (TypeError, ValueError):
        raise OnnxMetadataError(
            f'{source}: metadata entry {key!r} is not valid JSON: '
            f'{props[key]!r}. {_EXPORT_HINT}') from None


# ---------------------------------------------------------------------------
# Reading and writing the metadata of a file
# ---------------------------------------------------------------------------
def _require_file(path: str) -> str:
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'ONNX model {path!r} not found (resolved to '
            f'{osp.abspath(path)!r}).')
    return path


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(
            'Writing or reading ONNX files needs the onnx package, which is '
            f'not installed: {DEPLOY_INSTALL_HINT}') from None
    return onnx


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            'Running ONNX models needs onnxruntime, which is not installed: '
            f'{DEPLOY_INSTALL_HINT}') from None
    return onnxruntime


def read_model_info(path: str) -> OnnxModelInfo:
    """The :class:`OnnxModelInfo` of an exported file (read with onnx if
    installed, without loading the weights; else with onnxruntime)."""
    path = _require_file(path)
    try:
        onnx = _import_onnx()
    except ImportError:
        ort = _import_onnxruntime()
        session = ort.InferenceSession(
            path, providers=['CPUExecutionProvider'])
        props = session.get_modelmeta().custom_metadata_map
    else:
        proto = onnx.load(path, load_external_data=False)
        props = {p.key: p.value for p in proto.metadata_props}
    return OnnxModelInfo.from_metadata(props, path)


def set_model_info(proto, info: OnnxModelInfo) -> None:
    """Put ``info`` into the ``metadata_props`` of an ``onnx.ModelProto``
    (entries of the same keys are replaced, others kept)."""
    props = info.to_metadata()
    kept = [(p.key, p.value) for p in proto.metadata_props
            if p.key not in props]
    del proto.metadata_props[:]
    for key, value in kept + sorted(props.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def write_model_info(path: str, info: OnnxModelInfo) -> None:
    """Write ``info`` into the metadata of the ONNX file ``path`` (see
    :func:`set_model_info`), replacing the file atomically. Needs onnx."""
    onnx = _import_onnx()
    path = _require_file(path)
    proto = onnx.load(path)
    set_model_info(proto, info)
    tmp = f'{path}.part'
    onnx.save(proto, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------
def _as_bgr(face, where: str) -> np.ndarray:
    """``face`` as an ``(H, W, 3)`` uint8 array (gray replicated, as
    ``LoadFERImage`` does), or a clear error."""
    if not isinstance(face, np.ndarray):
        raise TypeError(f'{where}: expected an image as a numpy array '
                        f'(H, W, 3) uint8 BGR, got {type(face).__name__}.')
    if face.dtype != np.uint8:
        raise TypeError(
            f'{where}: expected uint8 pixels (0..255), got {face.dtype}; '
            'convert first (e.g. np.clip(img, 0, 255).astype(np.uint8)).')
    if face.ndim == 2:
        return np.repeat(face[:, :, None], 3, axis=2)
    if face.ndim == 3 and face.shape[2] == 1:
        return np.repeat(face, 3, axis=2)
    if face.ndim == 3 and face.shape[2] == 3:
        return face
    raise ValueError(
        f'{where}: expected an (H, W, 3) BGR, (H, W, 1) or (H, W) gray '
        f'image, got shape {face.shape}' +
        ('; drop the alpha channel first (cv2.cvtColor(img, '
         'cv2.COLOR_BGRA2BGR))' if face.ndim == 3 and face.shape[2] == 4
         else '') + '.')


def _prepare_face(face: np.ndarray, info: OnnxModelInfo,
                  where: str) -> np.ndarray:
    face = _as_bgr(face, where)
    height, width = info.input_size
    if min(face.shape[:2]) < 1:
        raise ValueError(f'{where}: empty image of shape {face.shape}.')
    # mmcv's Resize (keep_ratio=False, cv2 backend) calls cv2.resize with
    # (w, h) even when the size is unchanged: do the same, to the pixel.
    face = cv2.resize(face, (width, height),
                      interpolation=INTERPOLATIONS[info.interpolation])
    x = face.astype(np.float32)
    if info.channel_order == 'rgb':
        x = x[:, :, ::-1]
    # float32 arithmetic as the data preprocessor's: (x - mean) / std.
    x = (x - np.asarray(info.mean, np.float32)) / np.asarray(
        info.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def preprocess_faces(faces: Sequence, info: OnnxModelInfo) -> np.ndarray:
    """Faces -> the network input described by ``info``.

    Args:
        faces: A sequence of face crops, each an ``(H, W, 3)`` uint8 BGR
            array (as ``cv2.imread`` gives; ``(H, W)`` gray also works),
            any size. For a pair model (``faces_per_input == 2``), a
            sequence of ``(neutral, target)`` pairs of such arrays, both of
            the same person.
        info: The model's :class:`OnnxModelInfo`.

    Returns:
        np.ndarray: float32 ``(N, 3, H, W)``, or ``(N, 2, 3, H, W)`` for
        pairs.
    """
    if isinstance(faces, np.ndarray) and faces.ndim in (2, 3) and \
            info.faces_per_input == 1:
        raise TypeError('preprocess_faces: give a list of faces (one '
                        f'array of shape {faces.shape} was given: wrap it '
                        'as [face]).')
    faces = list(faces)
    if not faces:
        raise ValueError('preprocess_faces: no face given.')
    if info.faces_per_input == 1:
        out = [_prepare_face(f, info, f'face {i}')
               for i, f in enumerate(faces)]
    else:
        out = []
        for i, pair in enumerate(faces):
            if isinstance(pair, np.ndarray) and pair.ndim == 4:
                pair = list(pair)
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                got = type(pair).__name__
                if isinstance(pair, np.ndarray):
                    got += f' of shape {pair.shape}'
                elif isinstance(pair, (list, tuple)):
                    got += f' of length {len(pair)}'
                raise ValueError(
                    f'pair {i}: this model compares a face with a neutral '
                    'face of the same person: give (neutral, target) pairs '
                    f'of images, got a {got}. Without a neutral face, pass '
                    'the target twice.')
            out.append(np.stack([
                _prepare_face(f, info, f'pair {i}, {what}')
                for f, what in zip(pair, ('neutral', 'target'))
            ]))
    return np.stack(out)


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax over ``axis``, shifted by the maximum so that large logits
    do not overflow."""
    logits = np.asarray(logits, np.float32)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------
class ONNXFERModel:
    """An exported FER model in an ONNX Runtime session, with the
    preprocessing its metadata describes.

    Args:
        path (str): The ``.onnx`` file written by
            ``tools/deployment/pytorch2onnx.py``.
        providers (list, optional): ONNX Runtime execution providers, e.g.
            ``['CUDAExecutionProvider', 'CPUExecutionProvider']``. Defaults
            to the ones this onnxruntime build offers, in its order.
        session_options (onnxruntime.SessionOptions, optional): Passed to
            the session (threads, graph optimisation level).

    Attributes:
        info (OnnxModelInfo): The file's metadata.
        path (str): The file.
        session (onnxruntime.InferenceSession): The session.
        input_name (str): The graph's input name.
        output_name (str): The graph's logits output name.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OnnxMetadataError: The file has no (or invalid) ferpretrain
            metadata, or a graph that does not match it.
        ImportError: onnxruntime is not installed.
    """

    def __init__(self,
                 path: str,
                 providers: Optional[List] = None,
                 session_options=None):
        ort = _import_onnxruntime()
        self.path = _require_file(path)
        if providers is None:
            providers = ort.get_available_providers()
        try:
            self.session = ort.InferenceSession(
                self.path, sess_options=session_options, providers=providers)
        except Exception as error:  # noqa: BLE001 - onnxruntime's own types
            raise OnnxMetadataError(
                f'{self.path}: onnxruntime cannot open it as an ONNX model '
                f'({type(error).__name__}: {error}).') from None
        props = self.session.get_modelmeta().custom_metadata_map
        self.info = OnnxModelInfo.from_metadata(props, self.path)
        self._check_graph()

    def _check_graph(self) -> None:
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        expected = len(self.info.input_shape)
        if len(inputs) != 1 or len(inputs[0].shape) != expected:
            got = [(i.name, i.shape) for i in inputs]
            raise OnnxMetadataError(
                f'{self.path}: the graph takes {got}, but its metadata '
                f'describes one input of shape {self.info.input_shape}. '
                f'{_EXPORT_HINT}')
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        width = outputs[0].shape[-1] if outputs[0].shape else None
        if isinstance(width, int) and width != len(self.info.classes):
            raise OnnxMetadataError(
                f'{self.path}: the graph gives {width} logits but its '
                f'metadata names {len(self.info.classes)} classes. '
                f'{_EXPORT_HINT}')

    @property
    def classes(self) -> Tuple[str, ...]:
        """Class names in logit order."""
        return self.info.classes

    def preprocess(self, faces: Sequence) -> np.ndarray:
        """Faces (``(H, W, 3)`` uint8 BGR, any size; pairs for a pair
        model) -> float32 ``(N, 3, H, W)`` / ``(N, 2, 3, H, W)``; see
        :func:`preprocess_faces`."""
        return preprocess_faces(faces, self.info)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run the graph: a preprocessed batch -> logits ``(N, C)``."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        shape = self.info.input_shape
        if batch.ndim != len(shape) or batch.shape[1:] != tuple(shape[1:]):
            raise ValueError(
                f'{osp.basename(self.path)} takes a batch of shape '
                f'{shape}, got {batch.shape}; prepare faces with '
                '.preprocess(faces).')
        return self.session.run([self.output_name],
                                {self.input_name: batch})[0]

    def predict(self,
                faces: Sequence,
                batch_size: Optional[int] = None) -> np.ndarray:
        """Class probabilities of ``faces``: float32 ``(N, C)``, columns
        in :attr:`classes` order.

        Args:
            faces: As :meth:`preprocess`.
            batch_size (int, optional): Run at most this many faces (pairs)
                at a time. Defaults to all at once.
        """
        faces = list(faces)
        step = batch_size or max(len(faces), 1)
        logits = [
            self(self.preprocess(faces[i:i + step]))
            for i in range(0, len(faces), step)
        ]
        return softmax(np.concatenate(logits) if logits else np.zeros(
            (0, len(self.classes)), np.float32))

    def __repr__(self) -> str:
        info = self.info
        return (f'{type(self).__name__}({self.path!r}: '
                f'{info.model_name or "model"}, {len(info.classes)} '
                f'classes, input {info.input_shape}, '
                f'{info.channel_order.upper()}, '
                f'providers={self.session.get_providers()})')
