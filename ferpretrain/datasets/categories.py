"""Class names of the FER datasets, each in its dataset's conventional order.

The index of a name in its tuple is the ``gt_label`` a ferpretrain dataset
produces, so these tuples are the single place where label orders live.
Several official repositories re-order the labels of the same dataset; a
checkpoint trained under another order is converted by permuting its head
rows with :func:`label_permutation`, never by re-ordering a dataset silently.

The datasets also spell the same expression differently (FER2013 ``Angry``,
JAFFE ``Anger``, CK+ ``anger``, JAFFE's file codes ``AN``), so matching
classes by name lives here too: :func:`canonical_expression` and
:func:`match_classes`, which cross-dataset evaluation and
:class:`~ferpretrain.datasets.ClassSubsetDataset` share.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

# RAF-DB 'basic': EmoLabel/list_patition_label.txt codes 1..7 -> index 0..6.
# ferpretrain's canonical RAF-DB order (POSTER uses the same order, as
# ``label - 1``).
RAFDB_CATEGORIES = ('Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness',
                    'Anger', 'Neutral')

# The order the official APViT code remaps RAF-DB labels to. Only used to
# convert APViT checkpoints (permute the rows of their classification head).
APVIT_RAFDB_CATEGORIES = ('Anger', 'Disgust', 'Fear', 'Sadness', 'Happiness',
                          'Surprise', 'Neutral')

# fer2013.csv ``emotion`` codes 0..6.
FER2013_CATEGORIES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise',
                      'Neutral')


#: FERPlus (Barsoum et al. 2016): the 8 emotions in the order of the vote
#: columns of ``label.csv`` (unknown and not-a-face are not classes).
FERPLUS_CATEGORIES = ('Neutral', 'Happiness', 'Surprise', 'Sadness', 'Anger',
                      'Disgust', 'Fear', 'Contempt')

#: AffectNet expression codes 0..10 as annotated; codes 8..10 (None,
#: Uncertain, No-Face) are never classes.
AFFECTNET_CODES = ('Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust',
                   'Anger', 'Contempt', 'None', 'Uncertain', 'No-Face')
#: The 8 AffectNet classes (codes 0..7); the 7-class protocol drops Contempt.
AFFECTNET_CATEGORIES = AFFECTNET_CODES[:8]

#: CK+ emotion codes 1..7 (code 0, neutral, labels no peak frame); the CK+48
#: folder names.
CKPLUS_CATEGORIES = ('anger', 'contempt', 'disgust', 'fear', 'happy',
                     'sadness', 'surprise')

#: JAFFE expression codes in file names, in label order (alphabetical).
JAFFE_CODES = ('AN', 'DI', 'FE', 'HA', 'NE', 'SA', 'SU')
#: JAFFE class names, index = position of the code in :data:`JAFFE_CODES`.
JAFFE_CATEGORIES = ('Anger', 'Disgust', 'Fear', 'Happiness', 'Neutral',
                    'Sadness', 'Surprise')

#: SFEW 2.0 class folders (EmotiW).
SFEW_CATEGORIES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad',
                   'Surprise')
#: CAER-S class folders.
CAERS_CATEGORIES = ('Anger', 'Disgust', 'Fear', 'Happy', 'Neutral', 'Sad',
                    'Surprise')


#: The head order of each official release, by model and dataset.
#:
#: A checkpoint does not record its class order; these are the facts
#: behind each, which the converters apply (``--dataset``):
#:
#: - APViT, RAF-DB: the official code re-maps RAF-DB's codes to its own
#:   order (:data:`APVIT_RAFDB_CATEGORIES`).
#: - TransFER (PaddlePaddle port), POSTER and POSTER V2, RAF-DB: label =
#:   code - 1, i.e. :data:`RAFDB_CATEGORIES`. POSTER's loader computes it;
#:   POSTER V2 reads class folders with torchvision's ``ImageFolder``, which
#:   numbers the *sorted folder names*, and its users lay RAF-DB out as
#:   folders ``1``..``7`` (Talented-Q/POSTER_V2 issue #25), which sort into
#:   code order.
#: - POSTER and POSTER V2, AffectNet-7 / -8: the AffectNet expression codes
#:   0..6 / 0..7 (:data:`AFFECTNET_CODES`): POSTER's AffectNet loaders
#:   use the codes as labels, POSTER V2's ``ImageFolder`` sorts folders
#:   ``0``..``7``.
#: - POSTER V2, CAER-S: CAER-S is distributed as folders named after the
#:   classes, which ``ImageFolder`` sorts alphabetically
#:   (:data:`CAERS_CATEGORIES`), not in RAF-DB's order.
RELEASE_CLASS_ORDERS = {
    'apvit': {
        'rafdb': APVIT_RAFDB_CATEGORIES
    },
    'transfer': {
        'rafdb': RAFDB_CATEGORIES
    },
    'poster': {
        'rafdb': RAFDB_CATEGORIES,
        'affectnet7': AFFECTNET_CODES[:7],
        'affectnet8': AFFECTNET_CODES[:8],
    },
    'poster_v2': {
        'rafdb': RAFDB_CATEGORIES,
        'affectnet7': AFFECTNET_CODES[:7],
        'affectnet8': AFFECTNET_CODES[:8],
        'caers': CAERS_CATEGORIES,
    },
}


def label_permutation(src_classes: Sequence[str],
                      dst_classes: Sequence[str]) -> List[int]:
    """Index map that re-orders per-class rows from one label order to
    another.

    ``perm[i]`` is the index in ``src_classes`` of ``dst_classes[i]``, so that
    ``new_rows = old_rows[perm]`` turns a head weight of shape
    ``(num_classes, C)`` trained with ``src_classes`` into one for
    ``dst_classes``. Names are compared exactly (case included).

    Args:
        src_classes (Sequence[str]): Class names in the order of the source
            (e.g. a released checkpoint's head).
        dst_classes (Sequence[str]): Class names in the wanted order.

    Returns:
        list[int]: ``len(dst_classes)`` source indices.

    Raises:
        ValueError: If a list holds a name twice, or the two lists do not
            hold the same names (the message names the unmatched ones).

    Example:
        >>> label_permutation(APVIT_RAFDB_CATEGORIES, RAFDB_CATEGORIES)
        [5, 2, 1, 4, 3, 0, 6]
    """
    for name, classes in (('src_classes', src_classes), ('dst_classes',
                                                         dst_classes)):
        seen = set()
        dups = [c for c in classes if c in seen or seen.add(c)]
        if dups:
            raise ValueError(f'{name} holds duplicated class names {dups}: '
                             f'{tuple(classes)}')
    src_index = {c: i for i, c in enumerate(src_classes)}
    missing_in_src = [c for c in dst_classes if c not in src_index]
    missing_in_dst = [c for c in src_classes if c not in set(dst_classes)]
    if missing_in_src or missing_in_dst:
        parts = []
        if missing_in_src:
            parts.append(f'{missing_in_src} missing from src_classes')
        if missing_in_dst:
            parts.append(f'{missing_in_dst} missing from dst_classes')
        raise ValueError('Cannot map class orders: ' + '; '.join(parts) +
                         f' (src_classes={tuple(src_classes)}, '
                         f'dst_classes={tuple(dst_classes)}).')
    return [src_index[c] for c in dst_classes]


# The eight expressions of the FER datasets, each with the spellings the
# datasets use: class names, folder names and JAFFE's two-letter codes.
_EXPRESSION_SPELLINGS = {
    'anger': ('anger', 'angry', 'an', 'ang'),
    'contempt': ('contempt', 'contemptuous', 'co'),
    'disgust': ('disgust', 'disgusted', 'di', 'dis'),
    'fear': ('fear', 'fearful', 'afraid', 'scared', 'fe', 'fea'),
    'happiness': ('happiness', 'happy', 'joy', 'ha', 'hap'),
    'neutral': ('neutral', 'ne', 'neu'),
    'sadness': ('sadness', 'sad', 'sa'),
    'surprise': ('surprise', 'surprised', 'su', 'sur'),
}
_CANONICAL = {
    spelling: canonical
    for canonical, spellings in _EXPRESSION_SPELLINGS.items()
    for spelling in spellings
}


def canonical_expression(name: str) -> str:
    """The canonical name of an expression class, for matching by name.

    Case, surrounding white space, ``-`` and ``_`` do not matter. One of the
    eight expressions (``anger contempt disgust fear happiness neutral
    sadness surprise``) in any spelling the FER datasets use becomes that
    word; any other name is returned lower-cased (so two custom folder
    datasets still match by name).

    Example:
        >>> canonical_expression('Angry'), canonical_expression('SU')
        ('anger', 'surprise')
    """
    key = str(name).strip().lower().replace('-', ' ').replace('_', ' ')
    return _CANONICAL.get(key, key)


@dataclass
class ClassMatch:
    """How the classes of a model map onto those of a test set.

    Attributes:
        model_classes (list[str]): The model's classes, in head order.
        test_classes (list[str]): The test set's classes, in label order.
        model_index (list[int | None]): For each test class, the index of the
            model class that predicts it, or ``None`` if the model has none.
        merged (dict[str, str]): Test class -> model class pairs that come
            from an explicit ``class_map`` (not from equal names).
    """
    model_classes: List[str]
    test_classes: List[str]
    model_index: List[Optional[int]]
    merged: Dict[str, str] = field(default_factory=dict)

    @property
    def is_identity(self) -> bool:
        """True when the model's head order is the test set's label order
        (nothing to map)."""
        return (len(self.model_classes) == len(self.test_classes)
                and self.model_index == list(range(len(self.test_classes))))

    @property
    def test_only(self) -> List[str]:
        """Test classes the model cannot predict."""
        return [
            name for name, index in zip(self.test_classes, self.model_index)
            if index is None
        ]

    @property
    def model_only(self) -> List[str]:
        """Model classes left out of the prediction (no such test class)."""
        used = set(i for i in self.model_index if i is not None)
        return [
            name for i, name in enumerate(self.model_classes) if i not in used
        ]

    def format(self) -> str:
        """A text table: test class <- model class, and what is left out."""
        width = max(len(c) for c in self.test_classes + ['test class']) + 2
        lines = ['test class'.ljust(width) + '<- model class']
        for name, index in zip(self.test_classes, self.model_index):
            if index is None:
                source = '(none: the model lacks this class)'
            else:
                source = f'{self.model_classes[index]} [{index}]'
                if name in self.merged:
                    source += '   (merged by class_map)'
            lines.append(name.ljust(width) + '<- ' + source)
        if self.model_only:
            lines.append(f'model classes left out of the prediction (no '
                         f'such test class): {self.model_only}')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        """JSON-friendly summary (stored with the metrics)."""
        return dict(
            model_classes=list(self.model_classes),
            test_classes=list(self.test_classes),
            model_index=list(self.model_index),
            test_only=self.test_only,
            model_only=self.model_only,
            merged=dict(self.merged))


def _check_unique(classes: Sequence[str], what: str) -> None:
    seen = {}
    for name in classes:
        key = canonical_expression(name)
        if key in seen:
            raise ValueError(
                f'{what} holds two names of the same expression: '
                f'{seen[key]!r} and {name!r} (both mean {key!r}); class '
                f'names must be distinct to be matched by name: '
                f'{tuple(classes)}.')
        seen[key] = name


def match_classes(model_classes: Sequence[str],
                  test_classes: Sequence[str],
                  class_map: Optional[Dict[str, str]] = None) -> ClassMatch:
    """Pair every test class with the model class of the same expression.

    Args:
        model_classes (Sequence[str]): The model's classes in head order
            (e.g. the training set's ``METAINFO['classes']``).
        test_classes (Sequence[str]): The test set's classes in label order.
        class_map (dict[str, str], optional): Explicit ``{test class: model
            class}`` pairs, for classes that should be graded by a model
            class of another name (e.g. ``{'contempt': 'disgust'}``). Names
            are matched like the classes (any spelling). Defaults to None.

    Returns:
        ClassMatch: The mapping, with the classes each side lacks.

    Raises:
        ValueError: If a list names one expression twice, or ``class_map``
            names a class that is not in the lists (the message lists the
            known names).
    """
    model_classes = [str(c) for c in model_classes]
    test_classes = [str(c) for c in test_classes]
    _check_unique(model_classes, 'The model classes')
    _check_unique(test_classes, 'The test classes')
    model_lookup = {
        canonical_expression(c): i
        for i, c in enumerate(model_classes)
    }
    test_lookup = {canonical_expression(c): c for c in test_classes}

    explicit = {}
    for test_name, model_name in (class_map or {}).items():
        test_key = canonical_expression(test_name)
        model_key = canonical_expression(model_name)
        if test_key not in test_lookup:
            raise ValueError(
                f'class_map: {test_name!r} is not a test class; the test '
                f'classes are {tuple(test_classes)}.')
        if model_key not in model_lookup:
            raise ValueError(
                f'class_map: {model_name!r} is not a model class; the model '
                f'classes are {tuple(model_classes)}.')
        explicit[test_key] = model_lookup[model_key]

    model_index, merged = [], {}
    for name in test_classes:
        key = canonical_expression(name)
        if key in explicit:
            index = explicit[key]
            if canonical_expression(model_classes[index]) != key:
                merged[name] = model_classes[index]
        else:
            index = model_lookup.get(key)
        model_index.append(index)
    return ClassMatch(model_classes, test_classes, model_index, merged)
