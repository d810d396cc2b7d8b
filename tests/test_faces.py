"""``locate`` on pictures (fklib.faces, Locator.locate_picture, the CLI): exact transforms and warps, test
faces placed into pictures by known similarity transforms, portraits in another framing, no face, tiny faces."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from fklib.__main__ import main as cli
from fklib.data import load_set
from fklib.faces import align, compose
from fklib.faces.detect import Face, detect_faces, find_faces, turn_transform
from fklib.locate import MIN_EYE_SPAN, Locator, picture_decision
from fklib.metrics import coss
from conftest import save_png


# --- transforms and warps: exact definitions -------------------------------------------------------

def rotation_scale(scale, angle, tx, ty):
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_similarity_transform_recovers_a_known_similarity(rng):
    m = rotation_scale(1.7, 0.4, 12.5, -3.0)
    src = rng.uniform(0, 100, (5, 2))
    dst = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(align.similarity_transform(src, dst), m, atol=1e-9)
    # noisy points: the least-squares fit is closer to them than the true transform is
    noisy = dst + rng.normal(0, 1, dst.shape)
    fit = align.similarity_transform(src, noisy)
    err = lambda t: ((align.transform_points(t, src) - noisy) ** 2).sum()  # noqa: E731
    assert err(fit) <= err(m) + 1e-9


def test_similarity_transform_never_reflects():
    src = np.array([[0, 0], [10, 0], [0, 10.0]])
    mirrored = src * [-1, 1]
    assert np.linalg.det(align.similarity_transform(src, mirrored)[:, :2]) > 0


def test_similarity_transform_refuses_degenerate_points():
    with pytest.raises(ValueError, match="coincide"):
        align.similarity_transform(np.ones((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="N x 2"):
        align.similarity_transform(np.ones((5, 2)), np.zeros((4, 2)))


def test_warp_by_an_integer_translation_is_a_shift_with_zeros_outside(rng):
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = align.warp(img, np.array([[1, 0, 7], [0, 1, 4.0]]), (40, 50))
    np.testing.assert_array_equal(out[4:24, 7:37], img)
    assert out[:4].max() == 0 and out[:, :7].max() == 0 and out[24:].max() == 0


def smooth(h, w):
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    return (100 + 50 * np.sin(xx / 7) + 40 * np.cos(yy / 5)).astype(np.float32)


def test_warp_samples_at_pixel_centres():
    """Upscaling by 2: output pixel centre (x + 0.5) comes from input coordinate (x + 0.5) / 2 of the
    continuous function the smooth image samples (bilinear error of a smooth function only)."""
    img = smooth(64, 64)
    up = align.warp(img, np.array([[2, 0, 0], [0, 2, 0.0]]), (128, 128))
    yy, xx = np.mgrid[0:128, 0:128] + 0.5
    truth = 100 + 50 * np.sin(xx / 2 / 7) + 40 * np.cos(yy / 2 / 5)
    assert np.abs(up - truth)[4:-4, 4:-4].max() < 0.5


def test_warp_there_and_back_returns_the_image():
    img = smooth(64, 64)
    m = rotation_scale(1.5, 0.35, 40, 10)
    back = align.warp(align.warp(img, m, (160, 160)), align.invert(m), (64, 64))
    assert np.abs(back - img)[6:-6, 6:-6].max() < 1.0


def test_downscaling_warp_is_anti_aliased():
    """A stripe pattern at the input's Nyquist frequency, shrunk 4x, averages to grey (no aliasing)."""
    img = np.zeros((256, 256), np.float32)
    img[:, ::2] = 255
    out = align.warp(img, np.array([[0.25, 0, 0], [0, 0.25, 0.0]]), (64, 64))
    assert abs(out[4:-4, 4:-4].mean() - 127.5) < 3 and out[4:-4, 4:-4].std() < 3


def test_placement_puts_the_crop_centre_where_asked():
    t = compose.placement(2.0, 15, (300, 200))
    np.testing.assert_allclose(align.transform_points(t, [[64, 64]]), [[300, 200]])
    assert align.scale_of(t) == pytest.approx(2.0)
    # counter-clockwise on screen: the crop's right edge midpoint moves up (smaller y)
    assert align.transform_points(t, [[128, 64]])[0, 1] < 200


def test_placed_maps_follow_the_crop_exactly(rng):
    crop = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    gt = rng.random((16, 16)).astype(np.float32)
    bg = np.full((40, 40, 3), 7, np.uint8)
    t = np.array([[1, 0, 10], [0, 1, 20.0]])
    pic, (m,) = compose.place_faces(bg, [crop], [t], [gt])
    np.testing.assert_array_equal(pic[20:36, 10:26], crop)
    assert (pic[:20] == 7).all() and (pic[:, :10] == 7).all()
    np.testing.assert_allclose(m[20:36, 10:26], gt, atol=1e-6)
    assert m[:20].max() == 0


def test_templates_are_the_crop_geometry_of_each_other():
    """The stgan template is the celeba178 one moved by the known crops of the CelebA aligned image
    (170 at top 26 / left 3 against 178 at top 20 / left 0), as experiments/locate_photos.py derives it."""
    raw = align.TEMPLATES["celeba178"] * 178 / 128 + [0, 20]
    np.testing.assert_allclose(align.TEMPLATES["stgan"], (raw - [3, 26]) * 128 / 170, atol=0.01)


# --- faces placed into pictures: the detector, the alignment, the model ----------------------------

@pytest.fixture(scope="module")
def locator():
    return Locator()


@pytest.fixture(scope="module")
def test_faces(data_root):
    """Test-split faces: 6 fakes (STGAN, StarGAN-128, AttGAN / AttentionGAN) and 3 reals."""
    out = []
    for name, n_fake in (("stgan", 2), ("stargan128", 2), ("attgan_attentiongan", 2)):
        items = load_set(name, split="test")
        fakes = [it for it in items if it.label == 1 and it.property not in ("Reconstruction",)]
        out += fakes[:: max(1, len(fakes) // n_fake)][:n_fake] + [next(it for it in items if it.label == 0)]
    return out


def placed(items, seed):
    rng = np.random.default_rng(seed)
    ts = [compose.placement(rng.uniform(1, 3), rng.uniform(-20, 20),
                            ((k + 0.5) * 1024 / len(items), rng.uniform(300, 470))) for k in range(len(items))]
    pic, maps = compose.place_faces(compose.background(768, 1024, seed), [it.image for it in items], ts,
                                    [it.gt_map() for it in items])
    return pic, ts, maps


def matching(faces, t):
    expected = align.transform_points(t, align.TEMPLATES["celeba178"][:2]).mean(0)
    near = [f for f in faces if np.hypot(*(f.landmarks[:2].mean(0) - expected)) < align.scale_of(t) * 20]
    return near[0] if near else None


def test_placed_faces_are_found_and_aligned_like_their_crop(test_faces):
    """The alignment found in the picture, carried back through the known placement, is the one found on
    the crop itself: the crop's corners land within 6 px (of 128) of where the crop's own alignment puts them
    (MTCNN's landmarks move by 1-5 px between the two views; experiments/locate_photos.py detectors)."""
    corners = np.array([[0, 0], [128, 0], [0, 128], [128, 128.0]])
    for k in range(0, len(test_faces), 2):
        pair = test_faces[k:k + 2]
        pic, ts, _ = placed(pair, seed=k)
        faces = detect_faces(pic)
        for it, t in zip(pair, ts):
            f = matching(faces, t)
            assert f is not None, f"{it.source}: not found in the picture"
            own = detect_faces(it.image)[0]
            in_picture = align.compose(align.face_transform(f.landmarks), t)  # crop -> picture -> aligned crop
            on_crop = align.face_transform(own.landmarks)
            err = np.hypot(*(align.transform_points(in_picture, corners) - align.transform_points(on_crop, corners)).T)
            assert err.mean() < 6, (it.source, err)


def test_the_map_warped_back_scores_like_the_crops_map(locator, test_faces):
    """Fakes placed two to a picture: the picture map against the placed ground truth, inside each face's
    crop, scores a COSS close to the same face's crop map against its own ground truth (the issue's target is
    0.95x on the test split, measured in results/tables/locate_targets.md; here a looser bound on 6 faces),
    and each face's decision is the crop's."""
    fakes = [it for it in test_faces if it.label == 1]
    ratios, agree = [], []
    for k in range(0, len(fakes), 2):
        pair = fakes[k:k + 2]
        pic, ts, maps = placed(pair, seed=10 + k)
        res = locator.locate_picture(pic)
        assert res.map.shape == pic.shape[:2]
        for it, t, gt in zip(pair, ts, maps):
            inside = align.warp(np.ones((128, 128), np.float32), t, pic.shape[:2]) > 0.5
            m, p = locator.predict_array(it.image)
            ratios.append(coss(res.map, gt, inside) / coss(m, it.gt_map()))
            f = next(r for r in res.faces if r.face is matching([x.face for x in res.faces], t))
            agree.append(f.decision == locator.decide(p, m))
    assert np.mean(ratios) > 0.85, ratios
    assert np.mean(agree) >= 5 / 6, agree


def test_outside_the_faces_the_map_is_zero(locator, test_faces):
    pic, ts, _ = placed(test_faces[:2], seed=3)
    res = locator.locate_picture(pic)
    covered = np.zeros(pic.shape[:2], bool)
    for f in res.faces:
        if f.judged:
            covered |= align.warp(np.ones((128, 128), np.float32), align.invert(f.transform), pic.shape[:2]) > 0
    assert res.map[~covered].max() == 0 and res.map[covered].max() > 0


def test_a_portrait_in_another_framing_is_one_real_face(locator, data_root):
    """CelebAMask-HQ portraits (512 px, a wider framing than any training set): one face each."""
    from fklib.data import load_rgb

    files = sorted((data_root / "celebamask_hq" / "images").glob("*.jpg"))[:3]
    for path in files:
        res = locator.locate_picture(load_rgb(path))
        assert len(res.faces) == 1 and res.faces[0].judged, path
        assert res.faces[0].face.eye_span > 100  # a 512 px portrait: a large face


def test_no_face_is_said_plainly_and_no_map_is_made(locator):
    pic = compose.background(300, 400, seed=9)
    res = locator.locate_picture(pic)
    assert res.faces == [] and res.decision == "no face found" and res.probability is None
    assert res.map.shape == (300, 400) and res.map.max() == 0


def test_a_tiny_face_is_reported_not_judged(locator, test_faces):
    it = test_faces[0]
    t = compose.placement(0.45, 0, (200, 150))
    pic, _ = compose.place_faces(compose.background(300, 400, seed=4), [it.image], [t])
    res = locator.locate_picture(pic)
    assert len(res.faces) == 1, "the small face is still found"
    f = res.faces[0]
    assert f.face.eye_span < MIN_EYE_SPAN and not f.judged and f.decision == "too small" and f.crop_map is None
    assert res.decision == "no face large enough" and res.map.max() == 0


def test_picture_decision_rules():
    class F:
        def __init__(self, judged, decision):
            self.judged, self.decision = judged, decision
    assert picture_decision([]) == "no face found"
    assert picture_decision([F(False, "too small")]) == "no face large enough"
    assert picture_decision([F(True, "real"), F(True, "fake")]) == "fake"
    assert picture_decision([F(True, "real"), F(False, "too small")]) == "real"
    assert picture_decision([F(False, "too small"), F(False, "not aligned")]) == "no face judged"


# --- the command ---------------------------------------------------------------------------------

def test_locate_command_on_a_picture_writes_one_entry_per_face(test_faces, tmp_path):
    pic, ts, _ = placed([test_faces[0], test_faces[2]], seed=5)  # a STGAN fake and a real
    path = save_png(tmp_path / "two.png", pic)
    assert cli(["locate", str(path), "--out", str(tmp_path / "out")]) == 0
    rec = json.loads((tmp_path / "out" / "two.json").read_text())
    assert len(rec["faces"]) == 2 and rec["mode"].startswith("faces")
    for face in rec["faces"]:
        assert set(face) >= {"box", "landmarks", "score", "eye_span", "judged", "decision", "fake_probability",
                             "map_peak"}
        assert face["decision"] in ("fake", "real")
    assert rec["decision"] == ("fake" if any(f["decision"] == "fake" for f in rec["faces"]) else "real")
    with Image.open(tmp_path / "out" / "two_map.png") as m, Image.open(tmp_path / "out" / "two_overlay.png") as o:
        assert m.size == (1024, 768)                       # the map at the picture's size
        x0, y0, x1, y1 = rec["overlay"]["picture_box"]     # the picture at its own size inside the overlay
        assert (x1 - x0, y1 - y0) == (1024, 768) and o.size == tuple(rec["overlay"]["size"])


def test_locate_command_without_a_face_says_so_and_no_align_runs_as_before(tmp_path):
    path = save_png(tmp_path / "wall.png", compose.background(200, 300, seed=2))
    assert cli(["locate", str(path), "--out", str(tmp_path / "a")]) == 0
    rec = json.loads((tmp_path / "a" / "wall.json").read_text())
    assert rec["faces"] == [] and rec["decision"] == "no face found" and "no face found" in rec["note"]
    assert rec["fake_probability"] is None
    assert cli(["locate", str(path), "--out", str(tmp_path / "b"), "--no-align"]) == 0
    rec = json.loads((tmp_path / "b" / "wall.json").read_text())
    assert "faces" not in rec and rec["decision"] in ("fake", "real") and rec["mode"].startswith("whole image")


# --- issue 40: every face found or said, boxes, per-face statistics ---------------------------------

def upright_picture(item, seed=0, scale=2.0, angle=8.0, shape=(480, 640)):
    """One face placed into a picture (its placement known)."""
    h, w = shape
    t = compose.placement(scale, angle, (w / 2, h / 2))
    pic, _ = compose.place_faces(compose.background(h, w, seed), [item.image], [t])
    return pic, t


def true_landmark_points(item, t, k, shape):
    """Where the placed crop's template landmarks (its set's framing) lie in the picture turned by ``k`` quarter
    turns (numpy.rot90): the placement, then the turn, applied to the template's points."""
    pts = align.transform_points(t, align.TEMPLATES["stgan" if item.set == "stgan" else "celeba178"])
    return align.transform_points(turn_transform(shape, k), pts)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_face_turned_90_180_270_is_found_upright_and_judged_as_upright(locator, test_faces, k):
    """Issue 40, item 4: at 90 degrees the face was not found; at 180 it was found with the eyes on the mouth,
    aligned upside down and judged real (p = 0.002). Turned by k quarter turns, the face is found with its
    rotation, its eye landmarks on the true eyes (carried through the known placement and turn), and the crop
    the model sees is the upright picture's crop: the same verdict as upright."""
    it = test_faces[1]                                          # a STGAN fake
    pic, t = upright_picture(it, seed=21)
    upright = locator.locate_picture(pic)
    turned = np.ascontiguousarray(np.rot90(pic, k))              # the face's top turns left by k quarter turns
    res = locator.locate_picture(turned)
    (face,) = [f for f in res.faces if f.judged]
    assert face.face.rotation == (90 * (4 - k)) % 360           # lying clockwise by 360 - 90 k degrees
    truth = true_landmark_points(it, t, k, pic.shape[:2])
    span = np.hypot(*(truth[1] - truth[0]))
    for name, j in (("eye_left", 0), ("eye_right", 1), ("mouth_left", 3), ("mouth_right", 4)):
        assert np.hypot(*(face.face.landmarks[j] - truth[j])) < 0.25 * span, name
    (first,) = [f for f in upright.faces if f.judged]
    assert np.abs(face.crop.astype(float) - first.crop.astype(float)).mean() < 12   # the same face, upright
    assert face.decision == first.decision
    assert abs(face.probability - first.probability) < 0.2


def test_faces_are_searched_at_every_rotation_and_the_most_confident_view_is_kept(test_faces):
    """find_faces on a picture turned by 180 degrees: without rotations MTCNN alone either misses the face or
    finds it upside down (its eye landmarks not on the eyes); with them the face is upright (rotation 180)."""
    it = test_faces[4]
    pic, t = upright_picture(it, seed=22)
    turned = np.ascontiguousarray(np.rot90(pic, 2))
    truth = true_landmark_points(it, t, 2, pic.shape[:2])
    (face,) = find_faces(turned)
    assert face.rotation == 180
    assert np.hypot(*(face.landmarks[:2] - truth[:2]).T).max() < 0.25 * np.hypot(*(truth[1] - truth[0]))
    plain = find_faces(turned, rotations=(0,))
    assert all(np.hypot(*(f.landmarks[:2] - truth[:2]).T).max() > 0.25 * np.hypot(*(truth[1] - truth[0]))
               for f in plain)


def test_landmarks_that_do_not_make_an_upright_face_are_not_judged(locator, test_faces):
    """Item 4: a face whose landmarks are a mirror image, or eyes below the mouth, is listed as not aligned,
    with its reason; the picture says no face was judged."""
    tpl = align.TEMPLATES["stgan"]
    assert align.alignment_problem(tpl) is None
    assert align.alignment_problem(tpl * 2.5 + [300, 40]) is None            # scaled and shifted: still a face
    mirrored = tpl * [-1, 1] + [128, 0]                                       # left and right swapped
    assert "mirror" in align.alignment_problem(mirrored)
    flipped = tpl * [1, -1] + [0, 128]                                        # eyes below the mouth, labels kept
    assert align.alignment_problem(flipped) is not None
    squeezed = tpl.copy()
    squeezed[3:] = [[50, 70], [80, 70]]                                        # the mouth up at the eyes
    assert align.alignment_problem(squeezed) is not None
    pic, _ = upright_picture(test_faces[0], seed=23)
    face = Face((200.0, 150.0, 400.0, 350.0), mirrored * 2 + [170, 100], 0.99)
    res = locator.locate_picture(pic, faces=[face])
    (f,) = res.faces
    assert not f.judged and f.decision == "not aligned" and "mirror" in f.problem
    assert res.decision == "no face judged" and res.map.max() == 0
    entry = f.to_dict(pic.shape[1], pic.shape[0])
    assert entry["reason"].startswith("not aligned: ") and entry["map"] is None


def test_a_face_at_the_edge_has_its_box_clipped_and_its_crop_corners_given(locator, test_faces, tmp_path):
    """Item 6: boxes lay outside the image ([-108, -6, 178, 319] on a 700 px high picture). The JSON's box is
    clipped to the picture (box_clipped says so); crop_corners are the crop's corners carried back by the
    inverse of crop_transform (computed here with numpy's inverse)."""
    pic, _ = compose.place_faces(compose.background(420, 500, seed=24), [test_faces[3].image],
                                 [compose.placement(2.6, 0, (60, 200))])         # part of the face off the left edge
    path = save_png(tmp_path / "edge.png", pic)
    assert cli(["locate", str(path), "--out", str(tmp_path / "out"), "--no-overlay"]) == 0
    rec = json.loads((tmp_path / "out" / "edge.json").read_text())
    assert rec["faces"], "the face at the edge is found"
    for f in rec["faces"]:
        x0, y0, x1, y1 = f["box"]
        assert 0 <= x0 <= x1 <= 500 and 0 <= y0 <= y1 <= 420
        m = np.vstack([np.array(f["crop_transform"]), [0, 0, 1]])
        corners = (np.linalg.inv(m) @ np.array([[0, 0, 1], [128, 0, 1], [128, 128, 1], [0, 128, 1.0]]).T)[:2].T
        np.testing.assert_allclose(f["crop_corners"], corners, atol=0.05)
    assert any(f["box_clipped"] for f in rec["faces"])
    assert min(c[0] for c in rec["faces"][0]["crop_corners"]) < 0             # the crop reaches outside: black there


def test_each_face_has_its_own_map_statistics_and_the_picture_those_inside_the_faces(locator, test_faces, tmp_path,
                                                                                   capsys):
    """Item 7: the printed line said "map mean 0.000" for every picture (the mean over the whole picture). Each
    face's statistics are those of its crop's map (recomputed here from the crop aligned by the JSON's
    crop_transform); the picture's are over the map PNG's pixels inside the judged faces' crops."""
    pic, ts, _ = placed([test_faces[0], test_faces[3]], seed=25)                 # a STGAN fake, a StarGAN fake
    path = save_png(tmp_path / "two.png", pic)
    assert cli(["locate", str(path), "--out", str(tmp_path / "out"), "--no-overlay"]) == 0
    printed = capsys.readouterr().out
    rec = json.loads((tmp_path / "out" / "two.json").read_text())
    judged = [f for f in rec["faces"] if f["judged"]]
    assert len(judged) == 2
    inside = np.zeros(pic.shape[:2], bool)
    for f in judged:
        m = np.array(f["crop_transform"])
        crop = align.warp(pic, m, (128, 128))
        crop_map, prob = locator.predict_array(crop)
        # the crop rebuilt from the JSON's transform (rounded to 5 decimals) through align.warp rather than locate's
        # own align_face: p(fake) of the shipped model moves by a few thousandths under that sub-pixel difference
        assert f["fake_probability"] == pytest.approx(prob, abs=1e-2)
        assert f["map"]["mean"] == pytest.approx(float(crop_map.mean()), rel=0.05, abs=1e-4)
        assert f["map"]["max"] == pytest.approx(float(crop_map.max()), rel=0.05, abs=1e-4)
        assert f["map"]["pixels"] == 128 * 128
        assert f"map mean {f['map']['mean']:.3f}" in printed
        inside |= align.warp(np.ones((128, 128), np.float32), align.invert(m), pic.shape[:2]) > 0.5
    from fklib.locate import read_map_png

    full = read_map_png(tmp_path / "out" / "two_map.png")
    assert rec["map"]["pixels"] == pytest.approx(int(inside.sum()), rel=0.01)
    assert rec["map"]["mean"] == pytest.approx(float(full[inside].mean()), rel=0.02)
    assert rec["map"]["mean"] > 3 * float(full.mean())                              # not diluted by the background


def test_faces_too_small_are_counted_apart_from_the_judged(locator, test_faces, tmp_path, capsys):
    """Item 8: a picture with one face to judge and one far too small read "2 face(s)"; now the count says
    1 judged and 1 too small, in the JSON and the printed line."""
    ts = [compose.placement(2.0, 0, (200, 240)), compose.placement(0.4, 0, (520, 120))]
    pic, _ = compose.place_faces(compose.background(480, 640, seed=26), [test_faces[2].image, test_faces[5].image], ts)
    res = locator.locate_picture(pic)
    spans = sorted(f.face.eye_span for f in res.faces)
    assert len(res.faces) == 2 and spans[0] < MIN_EYE_SPAN <= spans[1]
    path = save_png(tmp_path / "mixed.png", pic)
    assert cli(["locate", str(path), "--out", str(tmp_path / "out"), "--no-overlay"]) == 0
    rec = json.loads((tmp_path / "out" / "mixed.json").read_text())
    assert (rec["faces_found"], rec["faces_judged"], rec["faces_too_small"]) == (2, 1, 1)
    small = next(f for f in rec["faces"] if not f["judged"])
    assert small["decision"] == "too small" and small["reason"].startswith("too small")
    out = capsys.readouterr().out
    assert "1 face judged, 1 too small to judge" in out and "2 face(s)" not in out
