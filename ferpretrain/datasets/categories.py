"""Class names of the FER datasets, each in its dataset's conventional order.

The index of a name in its tuple is the ``gt_label`` a ferpretrain dataset
produces, so these tuples are the single place where label orders live.
Several official repositories re-order the labels of the same dataset; a
checkpoint trained under another order is converted by permuting its head
rows with :func:`label_permutation`, never by re-ordering a dataset silently.
"""
from typing import List, Sequence

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
