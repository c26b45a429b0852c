"""tools/analysis_tools/face_geometry.py recovers the framing of crops that
FaceAligner made with a known geometry, from 48 px faces as FER2013's."""
import os.path as osp
import re
import sys

import cv2

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_helpers import REPO_ROOT, load_tool  # noqa: E402

from ferpretrain.utils.face_alignment import FaceAligner  # noqa: E402

tool = load_tool(
    osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'face_geometry.py'),
    'face_geometry_tool')
faces = load_tool(
    osp.join(REPO_ROOT, 'tests', 'test_utils', 'test_face_alignment.py'),
    'face_alignment_fixtures_geometry')


def test_recovers_a_known_framing(tmp_path, capsys):
    aligner = FaceAligner(size=48, face_scale=0.36, eye_line=0.45)
    gray = faces.face_image(gray=True)
    for i, angle in enumerate((0, 8, -8, 15)):
        crop = aligner.align(faces.rotate(gray, angle)).image
        cv2.imwrite(str(tmp_path / f'{i}.png'), crop)
    cv2.imwrite(str(tmp_path / 'noise.png'), faces.noise_image(48))
    assert tool.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('4 of 5 images with one face')
    scales, lines, read = tool.measure(
        sorted(str(p) for p in tmp_path.glob('[0-9].png')), 192)
    assert read == 4 and len(scales) == 4
    assert max(abs(s - 0.36) for s in scales) < 0.03
    assert max(abs(v - 0.45) for v in lines) < 0.03
    match = re.search(r'face_alignment = dict\(face_scale=([\d.]+), '
                      r'eye_line=([\d.]+)\)', out)
    assert abs(float(match.group(1)) - 0.36) <= 0.02
    assert abs(float(match.group(2)) - 0.45) <= 0.02
