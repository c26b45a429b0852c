"""The bad-input matrix: every dataset class (and layout variant) x every
kind of bad input.

Each case builds a valid copy in the real on-disk layout, corrupts it in
exactly one way and checks:

- the exception type (exactly, not a subclass) and where it is raised: when
  the dataset is built (``load``), or when the sample is fetched through the
  pipeline (``pipeline``: the dataset builds, ``dataset[i]`` raises
  :class:`FERSampleError`);
- that the message names the culprit: the file, with its line
  (``<file>:<line>``) and column where the layout has them, or the folder;
- that it says how to fix it (a piece of the advice is matched).

Where a case has no meaning for a layout, that layout's real equivalent is
tested instead, and the ``Layout`` subclass says so where it maps it.
"""
import glob
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pytest

from ferpretrain.datasets import (CAERS, FER2013, JAFFE, RAFDB, SFEW,
                                  AffectNet, CKPlus, FERFolder, FERPlus)
from ferpretrain.datasets.base_fer import FERAnnotationError, FERSampleError
from ferpretrain.datasets.categories import CAERS_CATEGORIES, SFEW_CATEGORIES
# The writers of the other real layouts live beside each class's own tests;
# they are imported, not copied, so that this matrix corrupts exactly the
# layouts those tests validate (pytest puts this folder on sys.path).
from test_affectnet import default_rows, write_affectnet
from test_ckplus import SEQS, write_ckplus
from test_fer_folder import CLASSES as FOLDER_CLASSES
from test_fer_folder import write_folder
from test_ferplus import write_ferplus
from test_jaffe import write_jaffe
from test_sfew_caer import write_folders

PIPELINE = [dict(type='LoadFERImage'), dict(type='PackInputs')]
CASES = ('missing_root', 'missing_listed_image', 'unreadable_image',
         'truncated_image', 'malformed_row', 'label_out_of_range',
         'empty_split')


@dataclass
class Expect:
    """What a corrupted copy must raise."""
    exc: type
    #: Strings the message must hold: the culprit file or folder, its
    #: ``<file>:<line>``, the column or value at fault.
    names: Sequence[str]
    #: A piece of the advice on how to fix it.
    fix: str
    #: ``'load'`` (building the dataset raises) or ``'pipeline'``.
    stage: str = 'load'
    #: With ``stage='pipeline'``: the image whose fetch must fail.
    image: str = ''
    #: The data_root to build on (default: the copy that was built).
    root: Optional[str] = None
    #: Extra arguments of the dataset (e.g. the split).
    kwargs: dict = field(default_factory=dict)


# --------------------------------------------------------------- helpers
def line_of(path: str, text: str) -> int:
    """The 1-based number of the first line of ``path`` holding ``text``."""
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            if text in line:
                return lineno
    raise AssertionError(f'{text!r} not in {path}')


def append_line(path: str, line: str) -> int:
    """Append ``line`` to a text file ending with a newline; return its
    1-based line number."""
    with open(path) as f:
        count = sum(1 for _ in f)
    with open(path, 'a') as f:
        f.write(line + '\n')
    return count + 1


def write_garbage(path: str) -> None:
    """An image extension over bytes that are no image at all."""
    with open(path, 'wb') as f:
        f.write(b'this is not an image\n' * 8)


def cut_in_half(path: str) -> None:
    """The first half of the file, as an interrupted copy leaves it."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def break_link(path: str) -> None:
    """Replace ``path`` by a symbolic link to a file that is gone, as a
    dataset linked from a moved or unmounted copy leaves it."""
    os.remove(path)
    os.symlink(osp.join(osp.dirname(path), 'moved-away', 'gone.png'), path)


def remove_files(pattern: str) -> None:
    paths = glob.glob(pattern, recursive=True)
    assert paths, pattern
    for path in paths:
        os.remove(path)


# --------------------------------------------------------------- layouts
class Layout:
    """A dataset class in one real layout and the corruptions of it.

    Subclasses give ``cls``, ``build`` (write a valid copy, return its
    data_root) and ``image`` (one image of the default split and the
    annotation source that names it), and override the cases whose
    corruption is specific to the layout. The defaults here are those of
    layouts that list their images in an annotation file (``ann_file``):
    the row cases append the line of ``bad_lines``.
    """

    cls: type = None
    kwargs: dict = {}
    #: case -> (line appended to the annotation file, strings the message
    #: holds besides ``<file>:<line>`` (the column / value), piece of the
    #: fix)
    bad_lines: dict = {}

    def build(self, tmp_path, fixture) -> str:
        raise NotImplementedError

    def image(self, root: str):
        """``(image path, annotation source)`` of a sample of the default
        split."""
        raise NotImplementedError

    def ann_file(self, root: str) -> str:
        """The annotation file of the default split."""
        raise NotImplementedError

    def dataset(self, root: str, **kwargs):
        # serialize_data=False: mmengine's serialisation only repacks the
        # loaded list, after every check, and its gc.collect() costs 0.2 s
        # a dataset with torch imported
        return self.cls(
            root,
            pipeline=PIPELINE,
            serialize_data=False,
            **self.kwargs,
            **kwargs)

    def bad_line(self, root, case):
        line, names, fix = self.bad_lines[case]
        ann_file = self.ann_file(root)
        lineno = append_line(ann_file, line)
        return Expect(FERAnnotationError, [f'{ann_file}:{lineno}', *names],
                      fix)

    def bad_image(self, root, corrupt, problem):
        path, source = self.image(root)
        corrupt(path)
        return Expect(
            FERSampleError, [path, source, problem],
            're-extract or re-download',
            stage='pipeline',
            image=path)

    # ---- cases; each corrupts ``root`` and returns what must be raised
    def missing_root(self, root):
        missing = osp.join(osp.dirname(root), 'not-extracted')
        return Expect(
            FileNotFoundError, [missing], 'set data_root', root=missing)

    def missing_listed_image(self, root):
        path, source = self.image(root)
        os.remove(path)
        return Expect(FileNotFoundError, [path, source],
                      'Restore the missing files')

    def unreadable_image(self, root):
        return self.bad_image(root, write_garbage, 'not an image')

    def truncated_image(self, root):
        # JPEG and PNG are checked for their end marker; other formats
        # (JAFFE's TIFF) fail in the decoder.
        path, _ = self.image(root)
        return self.bad_image(
            root, cut_in_half, 'truncated'
            if path.endswith(('.jpg', '.png')) else 'cannot decode')

    def malformed_row(self, root):
        return self.bad_line(root, 'malformed_row')

    def label_out_of_range(self, root):
        return self.bad_line(root, 'label_out_of_range')


class FolderLayout(Layout):
    """Layouts without an annotation file: the folders are the listing, and
    the annotation source of a sample is its image path.

    - missing listed image: nothing lists the images, so a file that is
      simply absent is not a sample at all. The real equivalent is an entry
      whose file is gone: a broken symbolic link (a dataset linked from a
      moved copy). It must be reported, not skipped.
    - malformed row -> a file that does not fit the layout (``stray``) beside
      an image;
    - label out of range -> an image in a class folder the layout does not
      have (``unknown_class``).
    """

    #: (stray file name, piece of the fix)
    stray = ('notes.txt', '')
    #: (class folder the layout does not have, piece of the fix)
    unknown_class = ('Contempt', '')

    def missing_listed_image(self, root):
        path, _ = self.image(root)
        break_link(path)
        return Expect(FERAnnotationError, [path, 'broken link'],
                      'restore the target')

    def malformed_row(self, root):
        name, fix = self.stray
        path, _ = self.image(root)
        stray = osp.join(osp.dirname(path), name)
        with open(stray, 'w') as f:
            f.write('a,b\n')
        return Expect(FERAnnotationError, [stray], fix)

    def label_out_of_range(self, root):
        name, fix = self.unknown_class
        path, _ = self.image(root)
        folder = osp.join(osp.dirname(osp.dirname(path)), name)
        os.makedirs(folder)
        os.rename(path, osp.join(folder, osp.basename(path)))
        return Expect(FERAnnotationError, [folder, repr(name)], fix)


class RAFDBLayout(Layout):
    cls = RAFDB
    bad_lines = {
        'malformed_row': ('train_00099.jpg', [], 'restore the line'),
        'label_out_of_range': ('train_00099.jpg 8', ["label '8'"],
                               'codes 1..7'),
    }

    def build(self, tmp_path, fixture):
        return fixture('rafdb_root')

    def ann_file(self, root):
        return osp.join(root, 'EmoLabel', 'list_patition_label.txt')

    def image(self, root):
        # a sample off the first line, so that the line number is tested
        ann_file = self.ann_file(root)
        return (osp.join(root, 'Image', 'aligned',
                         'train_00004_aligned.jpg'),
                f'{ann_file}:{line_of(ann_file, "train_00004.jpg")}')

    def empty_split(self, root):
        ann_file = self.ann_file(root)
        with open(ann_file) as f:
            train_only = [ln for ln in f if ln.startswith('train_')]
        with open(ann_file, 'w') as f:
            f.writelines(train_only)
        return Expect(ValueError, [ann_file, "'test_'"], 'cut short',
                      kwargs=dict(split='test'))


def _fer2013_row(emotion='3', pixels=' '.join(['7'] * 2304), *extra):
    return ','.join([emotion, pixels, 'Training', *extra])


class FER2013CsvLayout(Layout):
    """``fer2013.csv``: the images are pixels in the csv, so the image cases
    map to the ``pixels`` column of a row of the split:

    - missing listed image -> an empty ``pixels`` field;
    - unreadable image -> a non-integer pixel value;
    - truncated image -> the csv itself cut inside a row's pixels (as an
      interrupted download leaves it): that row lacks its Usage field.
    """

    cls = FER2013
    _pixels = (['pixels'], '2304 space-separated integers')
    bad_lines = {
        'missing_listed_image': (_fer2013_row(pixels=''), *_pixels),
        'unreadable_image':
        (_fer2013_row(pixels=' '.join(['7'] * 2303 + ['x7'])), *_pixels),
        'malformed_row': (_fer2013_row('3', ' '.join(['7'] * 2304), 'extra'),
                          ['fields'], 'separated by commas'),
        'label_out_of_range': (_fer2013_row('7'), ["emotion '7'"],
                               'codes 0..6'),
    }

    def build(self, tmp_path, fixture):
        return fixture('fer_csv_root')

    def ann_file(self, root):
        return osp.join(root, 'fer2013.csv')

    def missing_listed_image(self, root):
        return self.bad_line(root, 'missing_listed_image')

    def unreadable_image(self, root):
        return self.bad_line(root, 'unreadable_image')

    def truncated_image(self, root):
        csv = self.ann_file(root)
        with open(csv, 'rb') as f:
            data = f.read()
        last = data.rstrip(b'\n').rfind(b'\n') + 1  # start of the last row
        with open(csv, 'wb') as f:
            f.write(data[:last + 100])  # its emotion and 98 pixel bytes
        lineno = data[:last].count(b'\n') + 1
        return Expect(FERAnnotationError, [f'{csv}:{lineno}', 'got 2'],
                      'cut short')

    def empty_split(self, root):
        csv = self.ann_file(root)
        with open(csv) as f:
            kept = [ln for ln in f if not ln.rstrip().endswith('PrivateTest')]
        with open(csv, 'w') as f:
            f.writelines(kept)
        return Expect(ValueError, [csv, "'PrivateTest'"], 'incomplete',
                      kwargs=dict(split='test'))


class FER2013FolderLayout(FolderLayout):
    """The shared folder copy ``{train,test}/<class>/<Usage>_<n>.jpg``."""

    cls = FER2013
    stray = ('notes.txt', 'expected files named')
    unknown_class = ('contempt', 'expected angry disgust')

    def build(self, tmp_path, fixture):
        return fixture('fer_folder_root')

    def image(self, root):
        path = sorted(glob.glob(osp.join(root, 'train', 'sad', '*.jpg')))[0]
        return path, path

    def empty_split(self, root):
        # many shared copies hold no PrivateTest_<n> images at all
        remove_files(osp.join(root, 'test', '*', 'PrivateTest_*.jpg'))
        return Expect(ValueError, [osp.join(root, '{train,test}')],
                      "use split='val'",
                      kwargs=dict(split='test'))


class FERPlusLayout(Layout):
    """label out of range: a FERPlus row holds vote counts, not a label;
    a count out of range is a negative one."""

    cls = FERPlus
    bad_lines = {
        'malformed_row': ('fer0000099.png,"(0, 0, 48, 48)",3,4', [],
                          're-generate label.csv'),
        'label_out_of_range':
        ('fer0000099.png,"(0, 0, 48, 48)",6,-1,0,0,0,0,0,0,0,0',
         ['happiness vote -1'], 're-generate label.csv'),
    }

    def build(self, tmp_path, fixture):
        return write_ferplus(tmp_path / 'FERPlus')

    def ann_file(self, root, folder='FER2013Train'):
        return osp.join(root, folder, 'label.csv')

    def image(self, root):
        ann_file = self.ann_file(root)
        # fer0000001.png: happiness 9 of 10, kept by the majority rule
        return (osp.join(root, 'FER2013Train', 'fer0000001.png'),
                f'{ann_file}:{line_of(ann_file, "fer0000001.png")}')

    def empty_split(self, root):
        # an interrupted generator run leaves an empty label.csv
        ann_file = self.ann_file(root, 'FER2013Valid')
        open(ann_file, 'w').close()
        return Expect(ValueError, [ann_file, '0 rows'], 're-run it',
                      kwargs=dict(split='val'))


class AffectNetLayout(Layout):
    cls = AffectNet
    bad_lines = {
        # unquoted landmarks: their ';' are fine, a ',' splits the column
        'malformed_row': ('101/x.jpg,8,12,40,36,1.0,2.0,1,0.5,-0.2',
                          ['columns'], 'must be quoted'),
        'label_out_of_range': ('101/x.jpg,8,12,40,36,"1.0;2.0",11,0.5,0.2',
                               ["expression '11'"], 'codes 0..10'),
    }

    def build(self, tmp_path, fixture):
        return write_affectnet(tmp_path / 'AffectNet', default_rows(2),
                               default_rows(1, sub=500))

    def ann_file(self, root, name='training.csv'):
        return osp.join(root, 'Manually_Annotated_file_lists', name)

    def image(self, root):
        rel = '101/img_1_0.jpg'  # Happy
        ann_file = self.ann_file(root)
        return (osp.join(root, 'Manually_Annotated_Images', rel),
                f'{ann_file}:{line_of(ann_file, rel)}')

    def empty_split(self, root):
        ann_file = self.ann_file(root, 'validation.csv')
        with open(ann_file) as f:
            header = f.readline()
        with open(ann_file, 'w') as f:
            f.write(header)
        return Expect(ValueError, [ann_file, '0 rows'], 'cut short',
                      kwargs=dict(split='val'))


class CKPlusSequencesLayout(Layout):
    """The official ``cohn-kanade-images/`` + ``Emotion/`` layout.

    - the "annotation" of a frame is its sequence's emotion file (one
      number, no lines): malformed row -> that number unreadable; label out
      of range -> a code outside 1..7;
    - missing listed image -> the frame an emotion file is named after (the
      peak) is missing;
    - empty split: without folds the split is the whole labelled set, so
      "empty" is no labelled sequence (the label archive not extracted).
    """

    cls = CKPlus
    emotion_rel = osp.join('Emotion', 'S005', '001',
                           'S005_001_00000011_emotion.txt')

    def build(self, tmp_path, fixture):
        return write_ckplus(tmp_path / 'CK+', SEQS)

    def image(self, root):
        # S005/001 has 11 frames; 9..11 are its last 3, labelled disgust
        return (osp.join(root, 'cohn-kanade-images', 'S005', '001',
                         'S005_001_00000010.png'),
                osp.join(root, self.emotion_rel))

    def missing_listed_image(self, root):
        peak = osp.join(root, 'cohn-kanade-images', 'S005', '001',
                        'S005_001_00000011.png')
        os.remove(peak)
        return Expect(FERAnnotationError,
                      [osp.join(root, self.emotion_rel), 'S005_001_00000011',
                       'missing'], 're-extract cohn-kanade-images')

    def _emotion_file(self, root, content):
        path = osp.join(root, self.emotion_rel)
        with open(path, 'w') as f:
            f.write(content)
        return path

    def malformed_row(self, root):
        path = self._emotion_file(root, 'disgust\n')
        return Expect(FERAnnotationError, [path, "'disgust'"],
                      're-extract it from the Emotion_labels archive')

    def label_out_of_range(self, root):
        path = self._emotion_file(root, '   8.0000000e+00\n')
        return Expect(FERAnnotationError, [path, 'code 8', 'outside 1..7'],
                      'one code 1..7')

    def empty_split(self, root):
        remove_files(osp.join(root, 'Emotion', '**', '*_emotion.txt'))
        return Expect(ValueError, [root, 'no labelled sample'],
                      'extract it into <data_root>/Emotion')


class CK48Layout(FolderLayout):
    """CK+48 ``<class>/S###_###_########.png``. Its 7 emotions have no
    neutral: a ``neutral`` folder is a class out of range. Empty split: no
    folds, the split is the whole set, "empty" is no image at all."""

    cls = CKPlus
    stray = ('notes.txt', 'expected images named S###_###_########.png')
    unknown_class = ('neutral', 'expected anger contempt')

    def build(self, tmp_path, fixture):
        return fixture('ck48_root')

    def image(self, root):
        path = osp.join(root, 'fear', 'S013_004_00000018.png')
        return path, path

    def empty_split(self, root):
        remove_files(osp.join(root, '*', '*.png'))
        return Expect(ValueError, [root, 'no labelled sample'],
                      'put the CK+48 images into <data_root>/<class>/')


class JAFFELayout(FolderLayout):
    """The flat folder of ``KA.AN1.39.tiff`` images; the annotation is the
    file name: malformed row -> a name that does not parse; label out of
    range -> an unknown expression code; empty split -> no image (no
    protocol: the split is the whole set)."""

    cls = JAFFE

    def build(self, tmp_path, fixture):
        return write_jaffe(tmp_path / 'jaffe')

    def image(self, root):
        path = osp.join(root, 'KL.HA1.11.tiff')
        return path, path

    def _rename(self, root, name):
        path, _ = self.image(root)
        new = osp.join(root, name)
        os.rename(path, new)
        return new

    def malformed_row(self, root):
        path = self._rename(root, 'KL.HA.11.tiff')  # the take is missing
        return Expect(FERAnnotationError, [path, 'not a JAFFE image name'],
                      'expected <subject>.<code><take>.<id>.tiff')

    def label_out_of_range(self, root):
        path = self._rename(root, 'KL.XX1.11.tiff')
        return Expect(FERAnnotationError, [path, "'XX'"],
                      'expected one of AN DI FE HA NE SA SU')

    def empty_split(self, root):
        remove_files(osp.join(root, '*.tiff'))
        return Expect(ValueError, [root], 'set data_root to the folder')


class ClassFolderLayout(FolderLayout):
    """``<split>/<Class>/<image>`` (FERFolder, SFEW, CAER-S)."""

    stray = ('labels.csv', 'remove or move the others')
    unknown_class = ('Contempt', 'classes are')
    train_dir = 'train'

    def image(self, root):
        path = sorted(glob.glob(osp.join(root, self.train_dir, '*',
                                         '*.png')))[1]
        return path, path

    def empty_split(self, root):
        remove_files(osp.join(root, self.train_dir, '*', '*.png'))
        return Expect(ValueError, [osp.join(root, self.train_dir)],
                      'put the images')


class FERFolderLayout(ClassFolderLayout):
    cls = FERFolder
    kwargs = dict(classes=FOLDER_CLASSES)

    def build(self, tmp_path, fixture):
        counts = dict(zip(FOLDER_CLASSES, (1, 2, 3, 2, 1)))
        return write_folder(tmp_path / 'fer', {
            'train': counts,
            'test': dict.fromkeys(FOLDER_CLASSES, 1)
        })


class SFEWLayout(ClassFolderLayout):
    cls = SFEW
    train_dir = 'Train'

    def build(self, tmp_path, fixture):
        return write_folders(tmp_path / 'SFEW_2.0', ['Train', 'Val'],
                             SFEW_CATEGORIES, per_class=1)


class CAERSLayout(ClassFolderLayout):
    cls = CAERS

    def build(self, tmp_path, fixture):
        return write_folders(tmp_path / 'CAER-S', ['train', 'test'],
                             CAERS_CATEGORIES, per_class=1)


LAYOUTS = {
    'RAFDB': RAFDBLayout(),
    'FER2013-csv': FER2013CsvLayout(),
    'FER2013-folder': FER2013FolderLayout(),
    'FERPlus': FERPlusLayout(),
    'AffectNet': AffectNetLayout(),
    'CKPlus-sequences': CKPlusSequencesLayout(),
    'CKPlus-CK+48': CK48Layout(),
    'JAFFE': JAFFELayout(),
    'SFEW': SFEWLayout(),
    'CAERS': CAERSLayout(),
    'FERFolder': FERFolderLayout(),
}


# ----------------------------------------------------------------- tests
@pytest.mark.parametrize('variant', LAYOUTS)
def test_intact_copy_loads(variant, tmp_path, request):
    """The uncorrupted copies load, so that every failure of the matrix
    comes from its one corruption."""
    layout = LAYOUTS[variant]
    root = layout.build(tmp_path, request.getfixturevalue)
    dataset = layout.dataset(root)
    assert len(dataset) > 0
    if variant != 'FER2013-csv':  # its samples are in-memory arrays
        path, source = layout.image(root)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [(i['img_path'], i['ann_source'])
                for i in infos].count((path, source)) == 1
    assert dataset[0]['inputs'].shape[0] == 3


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('variant', LAYOUTS)
def test_bad_input(variant, case, tmp_path, request):
    layout = LAYOUTS[variant]
    root = layout.build(tmp_path, request.getfixturevalue)
    expect = getattr(layout, case)(root)
    root = expect.root or root
    if expect.stage == 'pipeline':
        # Decoding every image when the dataset is built would be slow; the
        # error comes when the sample is fetched, naming the image and the
        # annotation it came from.
        dataset = layout.dataset(root, **expect.kwargs)
        paths = [
            dataset.get_data_info(i)['img_path'] for i in range(len(dataset))
        ]
        with pytest.raises(expect.exc) as err:
            dataset[paths.index(expect.image)]
        # the decoder's own error is chained for the traceback
        assert isinstance(err.value.__cause__, ValueError)
    else:
        with pytest.raises(expect.exc) as err:
            layout.dataset(root, **expect.kwargs)
    assert type(err.value) is expect.exc, repr(err.value)
    message = str(err.value)
    for name in expect.names:
        assert name in message, f'{name!r} not in: {message}'
    assert expect.fix in message, f'{expect.fix!r} not in: {message}'
