"""The results of :class:`~ferpretrain.apis.FERInferencer` as JSON and CSV.

JSON keeps the inferencer's dicts (arrays left out). CSV has one row a
face; an image or a frame without a face is one row too, with the face
fields empty, so that counting rows by image (or frame) counts every input::

    image,face,x1,y1,x2,y2,detection_score,label,label_index,score,
        landmarks,error,score_<class 0>,score_<class 1>,...
    frame,time,face,...                              (videos)

``landmarks`` holds the 5 points as JSON (``[[x, y], ...]``); ``error`` the
reason an image could not be read.
"""
import csv
import json
import os
import os.path as osp
from typing import Iterable, List, Sequence

__all__ = ['csv_fields', 'face_rows', 'json_ready', 'write_csv',
           'write_json']

#: Keys holding arrays (``return_images`` / ``return_crops``), not written.
ARRAY_KEYS = ('decoded', 'aligned_face')
_FACE_FIELDS = ('face', 'x1', 'y1', 'x2', 'y2', 'detection_score', 'label',
                'label_index', 'score', 'landmarks')


def json_ready(record: dict) -> dict:
    """``record`` without its arrays (a copy; the face dicts too)."""
    out = {k: v for k, v in record.items() if k not in ARRAY_KEYS}
    out['faces'] = [{k: v
                     for k, v in face.items() if k not in ARRAY_KEYS}
                    for face in record.get('faces', [])]
    return out


def csv_fields(classes: Sequence[str], video: bool = False) -> List[str]:
    """The CSV columns: the input's, the face's, one score a class."""
    lead = ['frame', 'time'] if video else ['image']
    tail = [] if video else ['error']
    return lead + list(_FACE_FIELDS) + tail + [
        f'score_{name}' for name in classes
    ]


def face_rows(record: dict, classes: Sequence[str]) -> List[dict]:
    """The CSV rows of one image's or frame's result: one a face, or one
    with empty face fields when it has none."""
    if 'frame' in record:
        lead = dict(frame=record['frame'], time=record['time'])
    else:
        lead = dict(image=record['image'], error=record.get('error', ''))
    faces = record.get('faces') or []
    if not faces:
        return [lead]
    rows = []
    for index, face in enumerate(faces):
        x1, y1, x2, y2 = face['box']
        row = dict(
            lead,
            face=index,
            x1=x1,
            y1=y1,
            x2=x2,
            y2=y2,
            detection_score=_blank_none(face.get('detection_score')),
            label=face['label'],
            label_index=face['label_index'],
            score=face['score'],
            landmarks='' if face.get('landmarks') is None else json.dumps(
                [[round(x, 2), round(y, 2)] for x, y in face['landmarks']]))
        row.update(
            {f'score_{name}': face['scores'][name]
             for name in classes})
        rows.append(row)
    return rows


def _blank_none(value):
    return '' if value is None else value


def _parent(path: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)


def write_json(path: str, records: Iterable[dict]) -> None:
    """The records (:func:`json_ready`) as one JSON list, one record a
    line."""
    _parent(path)
    # One input a line: readable, and a valid JSON list.
    lines = [json.dumps(json_ready(r), ensure_ascii=False) for r in records]
    with open(path, 'w', encoding='utf-8') as f:
        f.write('[\n' + ',\n'.join(lines) + ('\n]\n' if lines else ']\n'))


def write_csv(path: str, rows: Iterable[dict], fields: Sequence[str]) -> None:
    """``rows`` (:func:`face_rows`) under the header ``fields``."""
    _parent(path)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, list(fields))
        writer.writeheader()
        writer.writerows(rows)
