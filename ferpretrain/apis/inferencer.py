"""Facial expressions of every face in photos, videos and a camera.

:class:`FERInferencer` runs a trained ferpretrain classifier the way it was
trained: it finds each face with dlib, aligns it with the very code that
prepared the training faces (:meth:`FaceAligner.align_box
<ferpretrain.utils.face_alignment.FaceAligner.align_box>`, which
``tools/dataset_converters/prepare_faces.py`` goes through too), prepares
it with the config's test pipeline and classifies it with the model::

    input (path, array, folder, video, camera)
      -> decode: (H, W, 3) BGR or (H, W) gray uint8 (read_image, cv2)
      -> detect: dlib HOG (default) or CNN boxes, largest first
      -> align: 5 landmarks -> similarity fit -> (S, S[, 3]) crop,
                S = the model's test input size
      -> classify: test pipeline (LoadFERImage, Resize, PackInputs)
                -> data_preprocessor -> model (B, C) logits
                -> softmax in float32 -> class probabilities

It follows mmpretrain's inferencers (``mmpretrain/apis/base.py``):
``__call__`` takes one input or a list, ``preprocess`` runs the pipeline,
``forward`` the model, ``postprocess`` builds plain dicts; unlike them it
loads checkpoints strictly, takes class names only from the checkpoint or
the config, and streams videos frame by frame.

Choices, and why:

- *Class names* come from ``classes=``, else the checkpoint's
  ``meta.dataset_meta.classes`` (converted releases and training runs write
  them), else the config's test dataset (its ``classes`` / ``METAINFO``,
  through :class:`NeutralPairDataset
  <ferpretrain.datasets.NeutralPairDataset>` for pair models); never
  guessed, and their number must equal the head's outputs.
- *Checkpoints* load with the safe loader
  (:func:`~ferpretrain.utils.checkpoint.load_checkpoint_file`) and must hold
  exactly the model's tensors (:func:`~ferpretrain.utils.load_check.
  compare_state_dict`); otherwise one :class:`~ferpretrain.utils.errors.
  CheckpointMismatchError` names the first keys and the likely cause.
- *Alignment geometry*: :class:`FaceAligner`'s defaults (``face_scale``
  0.3, ``eye_line`` 0.4), which ``prepare_faces.py`` also defaults to,
  unless the config declares the geometry its faces were prepared with::

      face_alignment = dict(face_scale=0.25, eye_line=0.45)  # optional
      # size=... (optional): the crop side; default the test input size

  (``face_alignment=`` of the constructor overrides it key by key). The
  crop is aligned at the model's test input size (the last ``Resize`` /
  ``CenterCrop`` of the test pipeline), so the pipeline's resize keeps it
  as it is.
- *Probabilities* are the softmax of the head's logits computed in float32
  (what mmpretrain's ``ClsHead.predict`` computes), also under bfloat16
  autocast, where a bfloat16 softmax would round them to 3 digits.
- *Pair models* (Difference of Embeddings, ``model.faces_per_input == 2``,
  input ``(B, 2, 3, H, W)``, index 0 the neutral face): ``neutral=`` gives
  a neutral photo of the person (aligned like the targets: its largest
  face), used for every face; without it each face is its own reference,
  which ``configs/doe/README.md`` shows costs accuracy: warned once.
- *Videos and cameras*: the detector scans the whole frame every
  ``full_scan_interval`` frames (default 10) and whenever a face is lost,
  and in between only windows around the last frame's faces
  (:class:`~ferpretrain.utils.face_tracking.FaceTracker`, whose docstring
  gives the costs); ``full_scan_interval=1`` detects on every whole frame.
- *Several faces*: every detected face is classified, largest first. The
  HOG detector's weak false detections (score near 0) are kept, with their
  ``detection_score``, for the caller to filter.

Example:
    >>> from ferpretrain.apis import FERInferencer
    >>> inferencer = FERInferencer('configs/apvit/raf.py', 'apvit_raf.pth')
    >>> result = inferencer('group_photo.jpg')[0]
    >>> [(f['label'], round(f['scores'][f['label']], 2))
    ...  for f in result['faces']]
    [('Happiness', 0.93), ('Neutral', 0.71)]
    >>> for frame in inferencer('talk.mp4'):  # a generator for videos
    ...     print(frame['frame'], frame['time'], len(frame['faces']))
"""
import copy
import os
import os.path as osp
import time
import warnings
from typing import (Any, Dict, Iterable, Iterator, List, Optional, Sequence,
                    Tuple)

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

from ferpretrain.utils.errors import ConfigError
from ferpretrain.utils.face_alignment import (DETECTORS, FaceAligner,
                                              FaceBox, UnreadableImageError,
                                              read_image)
from ferpretrain.utils.face_tracking import (DEFAULT_FULL_SCAN_INTERVAL,
                                             FaceTracker)
from .config_info import (alignment_geometry, config_classes,
                          config_input_size, test_pipeline_cfg)
from .sources import (InputSourceError, is_capture, collect_images,
                      is_video_source, open_video_source)

__all__ = ['FERInferencer', 'STAGES', 'BACKENDS', 'DTYPES']

#: The stages :attr:`FERInferencer.timings` reports, in seconds.
STAGES = ('decode', 'detect', 'align', 'classify')
#: Backends of :class:`FERInferencer`.
BACKENDS = ('pytorch', 'onnxruntime')
#: Precisions of the PyTorch backend: float32, or bfloat16 autocast.
DTYPES = ('fp32', 'bf16')


# ----------------------------------------------------------------------
class FERInferencer:
    """Detect, align and classify every face of images, videos, a camera.

    See the module docstring for the data flow and the choices.

    Args:
        model (str | Config | nn.Module | object): None (default): the
            model that ships with ferpretrain
            (:data:`~ferpretrain.apis.model.DEFAULT_MODEL`, trained on
            FER2013's real faces, its weights in the package); a model name
            (``ferpretrain.list_models()``; with ``checkpoint=None`` its
            published weights are loaded, if it has any), a config file
            or ``Config`` of a classifier of ferpretrain
            (``configs/*/*.py``);
            a built mmpretrain classifier carrying its config in
            ``_config`` (as ``mmpretrain.get_model`` returns it); with
            ``backend='onnxruntime'`` an ``.onnx`` file (or an object with
            the interface of ``ferpretrain.apis.onnx_backend.ONNXFERModel``).
        checkpoint (str, optional): The weights, loaded strictly: a file the
            converters (``tools/model_converters/``) or training write.
            None loads a model name's published weights; for a config (or
            a name without weights) it leaves the model at its random
            initialisation (with a warning; for smoke tests and speed
            measurements). Not used with onnxruntime.
        device (str): ``'cpu'`` (default), ``'cuda'``, ``'cuda:1'`` ...
        batch_size (int): Faces classified together. Defaults to 8.
        dtype (str): ``'fp32'`` (default) or ``'bf16'`` (the model runs
            under bfloat16 autocast, on the CPU or a GPU).
        backend (str): ``'pytorch'`` (default) or ``'onnxruntime'``.
        detect (bool): Find and align the faces (default); False takes each
            image as one already-aligned face crop. Each call may override
            it.
        detector (str): dlib's ``'hog'`` (default) or ``'cnn'`` detector.
        upsample (int): Detector upsampling (each step finds faces half as
            small, about 4x slower). Defaults to 0.
        full_scan_interval (int): Videos and cameras: the detector scans
            the whole frame every this many frames (and whenever a face is
            lost), and only windows around the last frame's faces between
            (:class:`~ferpretrain.utils.face_tracking.FaceTracker`:
            detection several times faster; a new face is found up to this
            many frames late). 1 scans every whole frame. Defaults to 10.
            Images are always scanned whole.
        align_size (int, optional): Side of the aligned crops. Defaults to
            the config's ``face_alignment.size``, else the model's test
            input size.
        face_alignment (dict, optional): ``face_scale`` / ``eye_line`` /
            ``size`` overriding the config's ``face_alignment``.
        classes (Sequence[str], optional): Class names in head order,
            overriding the checkpoint's and the config's.
        cfg_options (dict, optional): Overrides merged into the config
            (as ``--cfg-options``), e.g. the ones a converter printed.
        trust_checkpoint (bool, optional): Passed to the safe loader: True
            loads a checkpoint carrying arbitrary Python objects (only for
            files you trust). Defaults to None (the environment's list).
        predictor_path (str, optional): dlib's 5-point ``.dat`` file.
        detector_path (str, optional): dlib's CNN detector ``.dat`` file.
        tta (bool): Test-time flip: average the probabilities of each
            face and of its mirror image, as ``tools/test.py --tta`` does
            (pair models mirror the neutral face as well). It costs a
            second pass of the model; for the shipped model it gave +1.1
            points on FER2013's PublicTest (configs/iresnet/README.md).
            Defaults to False.

    Attributes:
        classes (tuple[str]): The class names, in head order.
        classes_source (str): Where they came from: ``'argument'``,
            ``'checkpoint'``, ``'config'`` or ``'onnx'``.
        faces_per_input (int): 1, or 2 for pair models.
        input_size (int): Side of the square faces the model takes.
        timings (dict): Of the latest call (updated as a video streams):
            seconds spent in each of :data:`STAGES`, their ``'total'``, and
            the counts ``'inputs'`` (images or frames) and ``'faces'``.

    Raises:
        ConfigError: An invalid option, a config that is not a classifier
            or declares no class names, classes that do not fit the head.
        CheckpointError / CheckpointMismatchError /
        UntrustedCheckpointError: The checkpoint cannot be read, does not
            hold exactly the model's tensors, or needs trust.
    """

    def __init__(self,
                 model: Any = None,
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 batch_size: int = 8,
                 dtype: str = 'fp32',
                 backend: str = 'pytorch',
                 detect: bool = True,
                 detector: str = 'hog',
                 upsample: int = 0,
                 full_scan_interval: int = DEFAULT_FULL_SCAN_INTERVAL,
                 align_size: Optional[int] = None,
                 face_alignment: Optional[dict] = None,
                 classes: Optional[Sequence[str]] = None,
                 cfg_options: Optional[dict] = None,
                 trust_checkpoint: Optional[bool] = None,
                 predictor_path: Optional[str] = None,
                 detector_path: Optional[str] = None,
                 tta: bool = False) -> None:
        for name, value, choices in (('backend', backend, BACKENDS),
                                     ('dtype', dtype, DTYPES),
                                     ('detector', detector, DETECTORS)):
            if value not in choices:
                raise ConfigError(f'FERInferencer: {name} must be one of '
                                  f'{choices}, got {value!r}')
        if isinstance(batch_size, bool) or not isinstance(
                batch_size, int) or batch_size < 1:
            raise ConfigError('FERInferencer: batch_size must be an int >= '
                              f'1, got {batch_size!r}')
        _check_interval(full_scan_interval)
        self.full_scan_interval = full_scan_interval
        self.tta = bool(tta)
        self.backend = backend
        self.dtype = dtype
        self.batch_size = batch_size
        self.detect = bool(detect)
        self.device = torch.device(device)
        self.cfg: Optional[Config] = None
        self.model = None
        self.onnx_model = None
        if model is None:
            if backend == 'onnxruntime':
                raise ConfigError(
                    "FERInferencer: backend='onnxruntime' needs an .onnx "
                    'file (tools/deployment/pytorch2onnx.py writes one)')
            from .model import DEFAULT_MODEL
            model = DEFAULT_MODEL
        if backend == 'onnxruntime':
            geometry, found, source = self._init_onnx(model, checkpoint)
        else:
            geometry, found, source = self._init_pytorch(
                model, checkpoint, cfg_options, trust_checkpoint)
        if classes is not None:
            found, source = classes, 'argument'
        self._set_classes(found, source)

        # The constructor's geometry over the config's (or the ONNX
        # file's), key by key; FaceAligner's defaults for the rest.
        geometry.update(
            alignment_geometry(face_alignment, 'face_alignment='))
        declared_size = geometry.pop('size', None)
        size = align_size or declared_size or self.input_size
        if not size:
            raise ConfigError(
                'the test pipeline has no Resize or CenterCrop that gives '
                'the model\'s input size: pass align_size=')
        self._aligner_args = dict(
            geometry,
            size=int(size),
            upsample=upsample,
            detector=detector,
            predictor_path=predictor_path,
            detector_path=detector_path)
        self._aligner: Optional[FaceAligner] = None
        self._warned_self_reference = False
        self.timings: Dict[str, float] = {}
        self._reset_timings()

    # ------------------------------------------------------------------
    # Set-up
    def _init_pytorch(self, model, checkpoint, cfg_options,
                      trust) -> Tuple[dict, Optional[list], str]:
        """Build or adopt the model, load the checkpoint, build the test
        pipeline; the config's alignment geometry and the class names with
        their source."""
        from ferpretrain.utils.setup_env import register_all_modules

        # The tools' process set-up (safe loader, mmcv fixes), so that
        # the pipeline behaves as in tools/test.py.
        register_all_modules(init_default_scope=False)
        if isinstance(model, torch.nn.Module):
            if getattr(model, '_config', None) is None:
                raise ConfigError(
                    'FERInferencer: a built model must carry its config in '
                    '`_config` (as mmpretrain.get_model sets it); pass the '
                    'config file instead')
            self.cfg = copy.deepcopy(model._config)
            self.config_name = getattr(self.cfg, 'filename', None) or \
                'the given model'
            self._check_classifier(model)
            meta = {}
            if checkpoint is not None:
                meta = self._load_checkpoint(model, checkpoint, trust)
            # Where mmpretrain's get_model keeps a checkpoint's classes.
            found = (meta.get('dataset_meta') or getattr(
                model, '_dataset_meta', None) or {}).get('classes')
        else:
            if isinstance(model, (str, os.PathLike)):
                path = os.fspath(model)
                if path.lower().endswith('.onnx'):
                    raise ConfigError(
                        f'{path} is an ONNX model: pass '
                        "backend='onnxruntime'")
                self.cfg, weights = _config_or_name(path)
                self.config_name = self.cfg.filename or path
                if checkpoint is None and weights:
                    # A model name with published weights: those.
                    checkpoint = weights
            elif isinstance(model, Config):
                self.cfg = copy.deepcopy(model)
                self.config_name = self.cfg.filename or 'the given config'
            else:
                raise ConfigError(
                    'FERInferencer: model must be a config file, a Config, '
                    'a built classifier or (onnxruntime) an .onnx file, '
                    f'got {type(model).__name__}')
            if cfg_options:
                self.cfg.merge_from_dict(cfg_options)
            model = self._build_model(checkpoint)
            found = None
            if checkpoint is not None:
                meta = self._load_checkpoint(model, checkpoint, trust)
                found = (meta.get('dataset_meta') or {}).get('classes')
        self.model = model.to(self.device).eval()
        self.num_outputs = int(model.head.num_classes)
        self.faces_per_input = int(getattr(model, 'faces_per_input', 1))
        pipeline = test_pipeline_cfg(self.cfg)
        self.pipeline = self._init_pipeline(pipeline)
        declared = self.cfg.get('face_alignment')
        declared = alignment_geometry(
            declared.to_dict() if hasattr(declared, 'to_dict') else declared,
            f'{self.config_name}: face_alignment')
        self.input_size = config_input_size(pipeline)
        if found:
            return declared, found, 'checkpoint'
        return declared, config_classes(self.cfg), 'config'

    def _check_classifier(self, model) -> None:
        from mmpretrain.models.classifiers import ImageClassifier
        from mmpretrain.models.heads import ClsHead
        if not isinstance(model, ImageClassifier) or not isinstance(
                getattr(model, 'head', None), ClsHead):
            raise ConfigError(
                f'{self.config_name} builds a {type(model).__name__}: '
                'FERInferencer runs expression classifiers (an '
                'ImageClassifier with a classification head)')

    def _build_model(self, checkpoint: Optional[str]):
        from mmpretrain.registry import MODELS

        from ferpretrain.analysis.inspection import (_init_weights_quietly,
                                                     without_pretrained_init)
        model_cfg = copy.deepcopy(self.cfg.model)
        # As mmpretrain's get_model: the top-level data_preprocessor is the
        # model's unless the model declares its own.
        if self.cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor',
                                 self.cfg.data_preprocessor)
        if checkpoint is None:
            # An untrained model needs none of the pretrained files (nor
            # Disentangled DoE's stage-1 encoder).
            model_cfg = without_pretrained_init(model_cfg)
            if model_cfg.get('backbone_checkpoint') is not None:
                model_cfg['backbone_checkpoint'] = None
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(model_cfg)
        self._check_classifier(model)
        if checkpoint is None:
            warnings.warn(
                f'FERInferencer: no checkpoint for {self.config_name}: the '
                'model keeps its random initialisation, its predictions '
                'mean nothing')
            _init_weights_quietly(model)
        return model

    def _load_checkpoint(self, model, checkpoint: str, trust) -> dict:
        """Load ``checkpoint`` strictly into ``model``; its ``meta``."""
        from ferpretrain.utils.load_check import load_strictly
        return load_strictly(model, checkpoint,
                             f'the model of {self.config_name}', trust=trust)

    def _init_pipeline(self, pipeline: List[dict]) -> Compose:
        """The test pipeline, loading from in-memory faces: mmpretrain's
        ``LoadImageFromFile`` reads only files, so it becomes
        ``LoadFERImage`` (which adopts ``results['img']``)."""
        from mmpretrain.registry import TRANSFORMS
        steps = []
        for step in pipeline:
            if step.get('type') == 'LoadImageFromFile':
                step = dict(
                    type='LoadFERImage',
                    to_float32=step.get('to_float32', False))
            steps.append(step)
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return Compose([TRANSFORMS.build(t) for t in steps])

    def _init_onnx(self, model,
                   checkpoint) -> Tuple[dict, Optional[list], str]:
        """Load the ONNX model; its alignment geometry (if it declares
        one) and class names."""
        if checkpoint is not None:
            raise ConfigError('backend onnxruntime: the .onnx file holds the '
                              'weights; pass no checkpoint')
        if self.dtype != 'fp32':
            raise ConfigError("backend onnxruntime: dtype='bf16' is for the "
                              'PyTorch backend (the .onnx graph has its own '
                              'precision)')
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if not path.lower().endswith('.onnx'):
                raise ConfigError(f'backend onnxruntime takes an .onnx file, '
                                  f'got {path}')
            if not osp.isfile(path):
                raise ConfigError(f'ONNX model {path} not found')
            try:
                # Imported here: onnxruntime is an optional dependency.
                from .onnx_backend import ONNXFERModel
            except ImportError as error:
                raise ConfigError(
                    'backend onnxruntime needs onnxruntime (pip install '
                    f'onnxruntime) and ferpretrain.apis.onnx_backend: '
                    f'{error}') from None
            model = ONNXFERModel(path)
            self.config_name = path
        else:
            self.config_name = type(model).__name__
        info = model.info
        self.onnx_model = model
        self.num_outputs = len(info.classes)
        self.faces_per_input = int(info.faces_per_input)
        height, width = (int(v) for v in info.input_size)
        if height != width:
            raise ConfigError(f'{self.config_name} takes {width}x{height} '
                              '(WxH) faces; aligned faces are square')
        self.input_size = height
        declared = alignment_geometry(
            getattr(info, 'face_alignment', None),
            f'{self.config_name}: face_alignment')
        return declared, list(info.classes), 'onnx'

    def _set_classes(self, found: Optional[Sequence[str]],
                     source: str) -> None:
        if not found:
            raise ConfigError(
                f'no class names for {self.config_name}: the checkpoint '
                'has no meta.dataset_meta.classes and the config\'s test '
                'dataset declares none; pass classes=[...] in head order')
        found = tuple(str(c) for c in found)
        if len(found) != self.num_outputs:
            raise ConfigError(
                f'{len(found)} class names from the {source} '
                f'({", ".join(found)}) for a model with '
                f'{self.num_outputs} outputs ({self.config_name}); '
                'use the config the model was trained with')
        self.classes = found
        self.classes_source = source

    @property
    def aligner(self) -> FaceAligner:
        """The face aligner (built at first use: dlib loads its model
        files then)."""
        if self._aligner is None:
            self._aligner = FaceAligner(**self._aligner_args)
        return self._aligner

    @property
    def align_size(self) -> int:
        return self._aligner_args['size']

    # ------------------------------------------------------------------
    # Timing
    def _reset_timings(self) -> None:
        self.timings = dict.fromkeys(STAGES, 0.0)
        self.timings.update(total=0.0, inputs=0, faces=0)

    def _add_time(self, stage: str, start: float) -> None:
        spent = time.perf_counter() - start
        self.timings[stage] += spent
        self.timings['total'] += spent

    # ------------------------------------------------------------------
    # Calls
    def __call__(self,
                 inputs: Any,
                 neutral: Any = None,
                 detect: Optional[bool] = None,
                 return_images: bool = False,
                 return_crops: bool = False,
                 skip_unreadable: bool = False):
        """Classify the faces of ``inputs``.

        Args:
            inputs: An image path, an ``(H, W, 3)`` BGR or ``(H, W)`` gray
                uint8 array, a folder (its images, recursively), or a list
                of those: returns a list, one dict an image, in order. A
                video file, a camera index or a ``cv2.VideoCapture``:
                returns a generator of one dict a frame (:meth:`stream`).
            neutral: Pair models only: a neutral image (path or array) of
                the person, aligned like the inputs.
            detect (bool, optional): Overrides the constructor's.
            return_images (bool): Add the decoded image or frame
                (``'decoded'``: ``(H, W, 3)`` BGR or ``(H, W)`` gray).
            return_crops (bool): Add each aligned face (``'aligned_face'``,
                ``(S, S, 3)`` BGR or ``(S, S)`` gray uint8) to its dict.
            skip_unreadable (bool): An unreadable image gives a dict with
                ``'error'`` and no face instead of raising.

        Returns:
            list[dict] | Iterator[dict]: Per image ``{'image': str (the
            path, or ``'<array i>'``), 'image_shape': [H, W], 'faces':
            [...]}`` (and ``'error'`` for an unreadable image skipped); per
            frame the same with ``'frame'`` (index from 0) and ``'time'``
            (seconds) in place of ``'image'``. Per face: ``'box'``
            ``[x1, y1, x2, y2]`` (pixels, x2 and y2 exclusive; the whole
            image with
            ``detect=False``), ``'detection_score'``, ``'landmarks'`` (5
            ``[x, y]``: dlib's points, see ``face_alignment.py``; None
            with ``detect=False``), ``'label'``, ``'label_index'``,
            ``'score'`` (the label's probability) and ``'scores'``
            (``{class name: probability}`` for every class, head order).
            Pair models add ``'reference'`` (``'neutral'`` or ``'self'``)
            to each input's dict.

        Raises:
            UnreadableImageError: An image cannot be read (names it).
            InputSourceError: A video or camera cannot be opened.
        """
        options = dict(neutral=neutral, detect=detect,
                       return_images=return_images,
                       return_crops=return_crops)
        if is_video_source(inputs):
            return self.stream(inputs, **options)
        return list(
            self.iter_images(
                inputs, skip_unreadable=skip_unreadable, **options))

    @staticmethod
    def _inputs_to_list(inputs: Any) -> list:
        """One input or a list of them as a list; a folder as its images
        (as mmpretrain's inferencers do, but recursively)."""
        if isinstance(inputs, (list, tuple)):
            items = list(inputs)
        else:
            items = [inputs]
        out = []
        for item in items:
            if isinstance(item, (str, os.PathLike)) and osp.isdir(item):
                out.extend(collect_images(os.fspath(item))[0])
            else:
                out.append(item)
        return out

    def iter_images(self,
                    inputs: Iterable[Any],
                    neutral: Any = None,
                    detect: Optional[bool] = None,
                    return_images: bool = False,
                    return_crops: bool = False,
                    skip_unreadable: bool = False) -> Iterator[dict]:
        """:meth:`__call__` for images, one dict at a time, in order (for
        progress bars over large folders). Faces of consecutive images are
        classified together, ``batch_size`` at a time."""
        detect = self.detect if detect is None else bool(detect)
        if isinstance(inputs, (str, os.PathLike, np.ndarray, list, tuple)):
            inputs = self._inputs_to_list(inputs)
        self._reset_timings()
        reference = self._reference(neutral, detect)
        ready: List[dict] = []
        pending: List[Tuple[np.ndarray, dict]] = []
        for index, item in enumerate(inputs):
            record = self._decode_record(item, index, skip_unreadable)
            image = record.pop('_image', None)
            if image is not None:
                pending += self._faces(image, record, detect, return_crops)
            self._finish_record(record, image, reference, return_images)
            ready.append(record)
            if len(pending) >= self.batch_size:
                self._classify_faces(pending, reference)
                pending = []
            if not pending:
                yield from ready
                ready = []
        self._classify_faces(pending, reference)
        yield from ready

    def stream(self,
               source: Any,
               neutral: Any = None,
               detect: Optional[bool] = None,
               return_images: bool = False,
               return_crops: bool = False,
               max_frames: Optional[int] = None,
               full_scan_interval: Optional[int] = None) -> Iterator[dict]:
        """Classify the faces of each frame of a video or camera.

        The source is opened at once (so a bad one raises here, not at the
        first frame) and released when the generator ends, unless it was
        given open.

        Args:
            source: A video file, a camera index or an open
                ``cv2.VideoCapture``-like object (``read()``,
                ``isOpened()``, ``get()``).
            neutral, detect, return_images, return_crops: As
                :meth:`__call__`.
            max_frames (int, optional): Stop after this many frames.
            full_scan_interval (int, optional): Overrides the
                constructor's.

        Returns:
            Iterator[dict]: One dict a frame, frames without a face
            included (empty ``'faces'``): ``{'frame': int, 'time': float,
            'image_shape': [H, W], 'faces': [...]}``. ``'time'`` is the
            frame's position (index / frame rate) in a video file, the
            seconds since the first frame for a camera index, and for a
            capture given open the former if it reports a frame rate.

        Raises:
            InputSourceError: The source cannot be opened, or gives no
                frame at all.
        """
        owned = not is_capture(source)
        capture, name, is_camera = open_video_source(source)
        fps = 0.0 if is_camera else float(capture.get(cv2.CAP_PROP_FPS)
                                          or 0.0)
        detect = self.detect if detect is None else bool(detect)
        try:
            interval = self.full_scan_interval
            if full_scan_interval is not None:
                interval = _check_interval(full_scan_interval)
            reference = self._reference(neutral, detect)
            tracker = FaceTracker(self.aligner, interval) if detect else None
        except Exception:
            if owned:
                capture.release()
            raise
        return self._frames(capture, name, owned, fps, reference, tracker,
                            return_images, return_crops, max_frames)

    def _frames(self, capture, name, owned, fps, reference, tracker,
                return_images, return_crops, max_frames) -> Iterator[dict]:
        self._reset_timings()
        detect = tracker is not None
        index, first = 0, None
        try:
            while max_frames is None or index < max_frames:
                start = time.perf_counter()
                ok, frame = capture.read()
                self._add_time('decode', start)
                if not ok or frame is None:
                    break
                if first is None:
                    first = start
                stamp = index / fps if fps > 0 else start - first
                record = dict(frame=index, time=round(stamp, 6))
                pending = self._faces(frame, record, detect, return_crops,
                                      tracker)
                self._finish_record(record, frame, reference,
                                    return_images)
                self._classify_faces(pending, reference)
                self.timings['inputs'] += 1
                yield record
                index += 1
        finally:
            if owned:
                capture.release()
        if index == 0 and (max_frames is None or max_frames > 0):
            raise InputSourceError(
                f'{name}: opened, but no frame could be read from it')

    # ------------------------------------------------------------------
    # Steps
    def _decode_record(self, item: Any, index: int,
                       skip_unreadable: bool) -> dict:
        """``{'image': name, '_image': array}`` (or ``'error'``)."""
        start = time.perf_counter()
        if isinstance(item, np.ndarray):
            name = f'<array {index}>'
            image = _check_array(item, name)
        elif isinstance(item, (str, os.PathLike)):
            name = os.fspath(item)
            try:
                if is_video_source(name):
                    raise InputSourceError(
                        f'{name}: a video among the images; pass it alone '
                        '(or to stream()) for frame-by-frame results')
                image = read_image(name)
            except UnreadableImageError as error:
                if not skip_unreadable:
                    raise
                self._add_time('decode', start)
                return dict(image=name, faces=[], error=str(error))
        else:
            raise ConfigError(
                f'input {index}: expected an image path or a uint8 array, '
                f'got {type(item).__name__}')
        self._add_time('decode', start)
        self.timings['inputs'] += 1
        return dict(image=name, _image=image)

    def _finish_record(self, record: dict, image: Optional[np.ndarray],
                       reference, return_images: bool) -> None:
        record.setdefault('faces', [])
        if image is not None:
            record['image_shape'] = list(image.shape[:2])
            if return_images:
                record['decoded'] = image
        if self.faces_per_input == 2:
            record['reference'] = 'self' if reference is None else 'neutral'

    def _faces(self,
               image: np.ndarray,
               record: dict,
               detect: bool,
               return_crops: bool,
               tracker: Optional[FaceTracker] = None
               ) -> List[Tuple[np.ndarray, dict]]:
        """The aligned faces of ``image`` as ``(crop, face dict)``; the face
        dicts are appended to ``record['faces']`` and filled by
        :meth:`_classify_faces`. ``tracker`` finds the faces of a video
        frame."""
        faces = record.setdefault('faces', [])
        if detect:
            aligner = self.aligner  # built at first use: not timed
            start = time.perf_counter()
            boxes = tracker(image) if tracker else aligner.detect(image)
            self._add_time('detect', start)
            start = time.perf_counter()
            aligned = [
                aligner.align_box(image, box, len(boxes))
                for box in boxes
            ]
            self._add_time('align', start)
            found = [(a.image, a.box, a.landmarks) for a in aligned]
        else:
            found = [(image, None, None)]
        out = []
        for crop, box, landmarks in found:
            face = _face_dict(box, landmarks, image.shape)
            if return_crops:
                face['aligned_face'] = crop
            faces.append(face)
            out.append((crop, face))
        self.timings['faces'] += len(out)
        return out

    def _reference(self, neutral: Any, detect: bool) -> Optional[Any]:
        """The neutral face each target is compared with: None (the target
        itself) or a prepared one; only pair models take it."""
        if self.faces_per_input != 2:
            if neutral is not None:
                raise ConfigError(
                    f'neutral= is for pair models (Difference of '
                    f'Embeddings); {self.config_name} takes one face')
            return None
        if neutral is None:
            if not self._warned_self_reference:
                warnings.warn(
                    'FERInferencer: a pair model without neutral=: each '
                    'face is compared with itself, which loses the '
                    'difference the model was trained on and costs '
                    'accuracy (configs/doe/README.md); pass a neutral '
                    'photo of the person')
                self._warned_self_reference = True
            return None
        if isinstance(neutral, np.ndarray):
            name, image = 'neutral image', _check_array(neutral, 'neutral=')
        else:
            name = os.fspath(neutral)
            image = read_image(name)
        if detect:
            # The largest face, as prepare_faces.py picks it.
            result = self.aligner.align(image)
            if result.image is None:
                raise InputSourceError(
                    f'{name}: no face found in the neutral image '
                    f'({result.status})')
            image = result.image
        if self.backend == 'onnxruntime':
            return _bgr3(image)
        return self._pack(image, name)

    def _pack(self, face: np.ndarray, name: str) -> dict:
        """One face through the test pipeline (``inputs`` ``(C, H, W)``)."""
        return self.pipeline(
            dict(img=face, img_shape=face.shape[:2],
                 ori_shape=face.shape[:2], ann_source=name))

    # ------------------------------------------------------------------
    # The model
    def preprocess(self, faces: Sequence[np.ndarray],
                   reference: Optional[dict] = None) -> dict:
        """Faces -> one batch for the data preprocessor: ``inputs`` a list
        of ``(C, H, W)`` tensors (``(2, C, H, W)`` for pairs, neutral
        first) and ``data_samples`` (mmengine's ``pseudo_collate``, as
        the test dataloaders batch)."""
        packed = []
        for i, face in enumerate(faces):
            sample = self._pack(face, f'face {i}')
            if self.faces_per_input == 2:
                other = sample if reference is None else reference
                sample = dict(
                    sample,
                    inputs=torch.stack([other['inputs'],
                                        sample['inputs']]))
            packed.append(sample)
        return pseudo_collate(packed)

    # inference_mode, not no_grad: no version counters and no view
    # tracking (the outputs never reach autograd); under bfloat16 autocast
    # on the CPU it made the full APViT's forward clearly faster in a probe.
    @torch.inference_mode()
    def forward(self, batch: dict) -> torch.Tensor:
        """A batch -> ``(B, num_classes)`` float32 probabilities."""
        data = self.model.data_preprocessor(batch, False)
        with torch.autocast(
                self.device.type,
                dtype=torch.bfloat16,
                enabled=self.dtype == 'bf16'):
            logits = self.model(data['inputs'], mode='tensor')
        return F.softmax(logits.float(), dim=1).cpu()

    def _predict(self, faces: List[np.ndarray], reference) -> np.ndarray:
        """``(N, num_classes)`` probabilities of ``faces`` (with
        ``tta``, the mean of the faces' and their mirror images')."""
        probs = self._predict_once(faces, reference)
        if self.tta:
            # Mirrored before the test pipeline: a horizontal flip commutes
            # with its resize, so this is mmpretrain's flip TTA of the
            # resized face.
            mirrored = [np.ascontiguousarray(f[:, ::-1]) for f in faces]
            probs = (probs + self._predict_once(
                mirrored, _mirror_reference(reference))) / 2
        return probs

    def _predict_once(self, faces: List[np.ndarray],
                      reference) -> np.ndarray:
        if self.onnx_model is not None:
            faces = [_bgr3(f) for f in faces]
            if self.faces_per_input == 2:
                # ONNXFERModel takes (neutral, target) pairs; without a
                # neutral face the target is its own reference.
                faces = [(f if reference is None else reference, f)
                         for f in faces]
            return np.asarray(self.onnx_model.predict(faces),
                              dtype=np.float64)
        probs = self.forward(self.preprocess(faces, reference))
        return probs.double().numpy()

    def _classify_faces(self, pending: List[Tuple[np.ndarray, dict]],
                        reference) -> None:
        """Fill the face dicts of ``pending``, ``batch_size`` at a time."""
        for first in range(0, len(pending), self.batch_size):
            chunk = pending[first:first + self.batch_size]
            start = time.perf_counter()
            probs = self._predict([crop for crop, _ in chunk], reference)
            self._add_time('classify', start)
            if probs.shape != (len(chunk), len(self.classes)):
                raise RuntimeError(
                    f'the model gave scores of shape {probs.shape} for '
                    f'{len(chunk)} faces and {len(self.classes)} classes')
            for (_, face), row in zip(chunk, probs):
                self.postprocess(face, row)

    def postprocess(self, face: dict, probs: np.ndarray) -> dict:
        """Fill ``face`` with the label and the scores of ``probs``."""
        best = int(np.argmax(probs))
        face.update(
            label=self.classes[best],
            label_index=best,
            score=float(probs[best]),
            scores={c: float(p)
                    for c, p in zip(self.classes, probs)})
        return face


# ----------------------------------------------------------------------
def _config_or_name(model: str) -> Tuple[Config, Optional[str]]:
    """``(config, weights)`` of a config file (also ``configs/...``
    relative to the checkout or the installed package; no weights) or of a
    model name (``list_models()``; its published weights, a packaged
    ``ferpretrain://`` one as a local path, or None)."""
    from ferpretrain.utils.resources import (PACKAGED_SCHEME, find_config,
                                             packaged_checkpoint)
    if model.endswith('.py') or osp.sep in model or osp.isfile(model):
        try:
            return Config.fromfile(find_config(model)), None
        except ConfigError:
            raise ConfigError(f'config file {model} not found') from None
    from .model import _resolve_name
    metainfo = _resolve_name(model)
    weights = metainfo.weights or None
    if weights and weights.startswith(PACKAGED_SCHEME):
        weights = packaged_checkpoint(weights)
    return metainfo.config, weights


def _mirror_reference(reference: Any) -> Any:
    """The neutral face of a pair, mirrored: None (each face is its own
    reference), a BGR image (ONNX) or a packed sample (PyTorch)."""
    if reference is None:
        return None
    if isinstance(reference, np.ndarray):
        return np.ascontiguousarray(reference[:, ::-1])
    return dict(reference, inputs=reference['inputs'].flip(-1))


def _check_interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError('FERInferencer: full_scan_interval must be an int '
                          f'>= 1, got {value!r}')
    return value


def _check_array(image: np.ndarray, name: str) -> np.ndarray:
    if image.dtype != np.uint8 or not (
            image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ConfigError(
            f'{name}: expected an (H, W, 3) BGR or (H, W) gray uint8 '
            f'image, got shape {image.shape} {image.dtype}')
    return image


def _bgr3(face: np.ndarray) -> np.ndarray:
    """A gray face as 3 equal channels, as LoadFERImage makes it."""
    if face.ndim == 2:
        return np.ascontiguousarray(np.repeat(face[:, :, None], 3, axis=2))
    return face


def _face_dict(box: Optional[FaceBox], landmarks: Optional[np.ndarray],
               shape: tuple) -> dict:
    if box is None:
        return dict(box=[0, 0, int(shape[1]), int(shape[0])],
                    detection_score=None, landmarks=None)
    # dlib's right and bottom are inclusive: +1 makes x2 - x1 the width.
    return dict(
        box=[int(box.left), int(box.top), int(box.right) + 1,
             int(box.bottom) + 1],
        detection_score=float(box.score),
        landmarks=[[float(x), float(y)] for x, y in landmarks])

