"""Face parser pieces: fixed hold-out, augmentation keeps labels consistent, IoU, parse shapes."""

import numpy as np
import pytest
import torch

from fklib.parsing import FaceParser, class_iou, parse, parsing_split
from fklib.parsing.parser import MIRROR, augment


def test_holdout_is_fixed_and_disjoint():
    ids = [str(i) for i in range(1500)]
    train, hold = parsing_split(ids)
    assert len(hold) == 200 and len(train) == 1300 and not set(train) & set(hold)
    assert parsing_split(list(reversed(ids))) == (train, hold)     # independent of the input order


def test_augment_moves_image_and_label_together():
    gen = torch.Generator().manual_seed(0)
    # image channel 0 encodes the label: after any affine + mirror they must still agree
    labels = torch.zeros(8, 32, 32, dtype=torch.long)
    labels[:, 8:24, 4:14] = 4      # l_eye on the left
    labels[:, 8:24, 18:28] = 13    # hair on the right
    images = torch.zeros(8, 3, 32, 32)
    images[:, :, 8:24, 4:14] = 0.4
    images[:, :, 8:24, 18:28] = 0.9
    x, y = augment(images, labels.clone(), gen)
    assert x.shape == images.shape and y.shape == labels.shape
    assert set(y.unique().tolist()) <= {0, 4, 5, 13}
    left_eye_side = [(y[i] == 4).nonzero()[:, 1].float().mean() for i in range(8) if (y[i] == 4).any()]
    right_eye_side = [(y[i] == 5).nonzero()[:, 1].float().mean() for i in range(8) if (y[i] == 5).any()]
    assert all(c < 16 for c in left_eye_side) and all(c > 16 for c in right_eye_side)  # mirror swaps l/r
    assert MIRROR[4] == 5 and MIRROR[5] == 4


def test_class_iou_hand_case():
    pred = np.array([[1, 1, 0, 0], [1, 13, 13, 0]])
    target = np.array([[1, 0, 0, 0], [1, 13, 13, 13]])
    ious = class_iou(pred, target, {"skin": (1,), "hair": (13,), "nose": (2,)})
    assert ious["skin"] == pytest.approx(2 / 3) and ious["hair"] == pytest.approx(2 / 3)
    assert np.isnan(ious["nose"])


def test_parse_returns_class_maps_at_the_input_size():
    model = FaceParser(pretrained=False)
    out = parse(model, np.zeros((2, 96, 80, 3), np.uint8), size=64)
    assert out.shape == (2, 96, 80) and out.dtype == np.uint8 and out.max() < 19


def test_landmark_parser_convex_hull():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "experiments" / "landmark_parser.py"
    spec = importlib.util.spec_from_file_location("landmark_parser", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)            # imports no mediapipe at module level
    square = np.array([[0, 0], [4, 0], [4, 4], [0, 4], [2, 2], [1, 3]], float)
    assert sorted(module.hull(square)) == [(0.0, 0.0), (0.0, 4.0), (4.0, 0.0), (4.0, 4.0)]
