"""Readers, one per source layout, returning aligned uint8 RGB arrays plus metadata.

Every reader checks the layout it expects (image size, the black gap of the strips) and
raises ``ValueError`` naming the file and the expected size when it does not match, or
``FileNotFoundError`` naming a missing file or folder. See ``../shared/data/README.md``.
The readers of whole folders (:func:`read_each` over strips, :func:`read_interfacegan`,
:func:`read_generic`) try every file: the bad ones are either collected into the caller's
``errors`` list and skipped, or raised together as one :class:`BadFilesError`.

Two shapes of result:

- :class:`Strip` -- one identity of a paired set: the real face and its GAN outputs
  (STGAN, AttGAN, StarGAN). ``Strip.items()`` flattens it into :class:`Item` s.
- :class:`Item` -- one locator input: an image, the real image it was made from (for a
  partial edit), its real/fake label and metadata. ``Item.gt_map()`` gives its eq.-4 map.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .images import load_label, load_rgb
from .maps import entire_map, gt_map, real_map

#: The 13 STGAN/AttGAN attributes, in strip order (tiles k = 1..13; k = 0 is the reconstruction).
STGAN_PROPERTIES = (
    "Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair", "Bushy_Eyebrows", "Eyeglasses",
    "Male", "Mouth_Slightly_Open", "Mustache", "No_Beard", "Pale_Skin", "Young",
)
#: StarGAN target attributes, in strip order (both StarGAN sets: the disrupted 256 px strips and the
#: released 128 px generator's grids).
STARGAN_PROPERTIES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
#: The released AttGAN-PyTorch generator's edits in ``attgan_attentiongan_celeba128``.
ATTGAN128_PROPERTIES = ("Bald", "Blond_Hair", "Young")
#: The AttentionGAN's edits in ``attgan_attentiongan_celeba128``.
ATTENTIONGAN_PROPERTIES = ("Bald", "Blond_Hair", "Smiling", "Young")
#: CelebAMask-HQ's 19 face-parsing classes, by label index (``celebamask_hq/labels``, our face parser).
CELEBAMASK_CLASSES = ("background", "skin", "nose", "eyeglasses", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear",
                      "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "earring", "necklace", "neck", "cloth")
RECONSTRUCTION = "Reconstruction"
REAL = "Real"
ENTIRE = "Entire"

STRIP_TILE = 128      # STGAN / AttGAN tile size
STRIP_GAP = 12        # black gap between the real image and the GAN outputs
STRIP_WIDTH = STRIP_TILE + STRIP_GAP + 14 * STRIP_TILE   # 1932
ATTGAN_ROWS = 13
STARGAN_TILE = 256
STARGAN_TILES = 1 + 2 * len(STARGAN_PROPERTIES)          # 11
STARGAN128_TILE = 128
STARGAN128_ROWS = 16          # rows (identities) per grid file of stargan_celeba128
STARGAN128_IMAGES = 1999      # StarGAN's test selection as upstream ran it: the last grid (n = 125) has 15 rows
#: JPEG quality of the AttGAN / AttentionGAN fakes (their rebuilt reals are saved the same way, see
#: :func:`read_attgan_attentiongan`).
ATTGAN128_JPEG_QUALITY = 75
GAP_MAX_MEAN = 16.0   # the gap is black; JPEG ringing allowed up to this mean gray level


@dataclass(frozen=True, eq=False)
class Item:
    """One locator input with what is needed to build its ground truth.

    Attributes:
        image: ``HxWx3`` uint8, the image the locator sees.
        reference: ``HxWx3`` uint8 real source of a partial edit; ``None`` for real images
            and whole-image syntheses.
        label: 0 real, 1 fake.
        set: the data set it came from (``stgan_celeba128``, ..., ``generic``).
        gan: lower-case GAN name (``stgan``, ``attgan``, ``stargan``, ``interfacegan``, ...);
            ``real`` for real images.
        property: the edited attribute (dataset spelling), ``Entire`` or ``Real``.
        identity: the person / file id used for identity-disjoint splits.
        source: the file (and tile) it was read from.
        cached_map: the eq.-4 map when already computed (the decoded-array cache stores it);
            ``None`` computes it on demand.
    """

    image: np.ndarray
    reference: np.ndarray | None
    label: int
    set: str
    gan: str
    property: str
    identity: str
    source: str
    cached_map: np.ndarray | None = None

    def gt_map(self) -> np.ndarray:
        """The eq.-4 map: zeros for a real image, ones for ``Entire``, else ``gt_map(reference, image)``.

        ``HxW`` float32; a cached map is returned as a (possibly read-only) view.
        """
        if self.cached_map is not None:
            return self.cached_map
        h, w = self.image.shape[:2]
        if self.label == 0:
            return real_map(h, w)
        if self.reference is None:
            return entire_map(h, w)
        return gt_map(self.reference, self.image)

    def meta(self) -> dict:
        """Metadata without the arrays (for tables and Dataset samples)."""
        return {"set": self.set, "gan": self.gan, "property": self.property,
                "identity": self.identity, "label": self.label, "source": self.source}


@dataclass(frozen=True, eq=False)
class Strip:
    """One identity of a paired set: the real face and what a GAN made of it.

    Attributes:
        edits: property -> GAN output (``Reconstruction`` first where the GAN gives one).
        inputs: property -> the (perturbed) input the GAN was given, where it differs from
            ``real`` (StarGAN disrupted strips); empty otherwise.
    """

    set: str
    gan: str
    identity: str
    source: str
    real: np.ndarray
    edits: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)

    def items(self, include_reconstruction: bool = False, include_real: bool = True) -> list[Item]:
        """Flatten into :class:`Item` s: the real face (label 0) then one item per edit (label 1)."""
        out = []
        if include_real:
            out.append(Item(self.real, None, 0, self.set, "real", REAL, self.identity, f"{self.source}#real"))
        for prop, fake in self.edits.items():
            if prop == RECONSTRUCTION and not include_reconstruction:
                continue
            out.append(Item(fake, self.real, 1, self.set, self.gan, prop, self.identity, f"{self.source}#{prop}"))
        return out


class BadFilesError(ValueError):
    """Files of a folder that could not be read; ``errors`` holds one message per file, each naming it."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} file(s) could not be read:\n  " + "\n  ".join(self.errors))


def _message(path: Path, err: Exception) -> str:
    return str(err) if str(path) in str(err) else f"{path}: {err}"


def _report(bad: list[str], errors: list[str] | None) -> None:
    """Hand the bad files' messages to the caller's ``errors`` list, or raise them (``errors=None``)."""
    if errors is not None:
        errors.extend(bad)
    elif bad:
        raise BadFilesError(bad)


def read_each(files, read, errors: list[str] | None = None) -> list:
    """``[read(f) for f in files]``, trying every file even after a bad one.

    Args:
        files: the files to read.
        read: a reader of one file (e.g. :func:`read_stgan_strip`).
        errors: a list that receives one message per bad file (``ValueError`` / ``FileNotFoundError``,
            each naming the file); those files are then left out. ``None``: raise them all together.

    Raises:
        BadFilesError: with ``errors=None``, when any file could not be read.
    """
    out, bad = [], []
    for f in files:
        try:
            out.append(read(f))
        except (FileNotFoundError, ValueError) as err:
            bad.append(_message(Path(f), err))
    _report(bad, errors)
    return out


def _check_size(path: Path, arr: np.ndarray, width: int, height: int, what: str) -> None:
    h, w = arr.shape[:2]
    if (w, h) != (width, height):
        raise ValueError(f"{path}: {what} must be {width}x{height} (width x height), got {w}x{h}")


def _check_gap(path: Path, gap: np.ndarray, where: str) -> None:
    mean = float(gap.mean())
    if mean > GAP_MAX_MEAN:
        raise ValueError(
            f"{path}: expected a black {STRIP_GAP}-px gap {where}, found mean gray level {mean:.1f} "
            f"(> {GAP_MAX_MEAN}); is this a strip of the expected layout?"
        )


def _split_strip_row(path: Path, row: np.ndarray, where: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Cut one 1932x128 STGAN-layout row into the real tile and the 14 GAN tiles."""
    t, g = STRIP_TILE, STRIP_GAP
    _check_gap(path, row[:, t:t + g], where)
    real = np.ascontiguousarray(row[:, :t])
    names = (RECONSTRUCTION, *STGAN_PROPERTIES)
    start = t + g
    edits = {name: np.ascontiguousarray(row[:, start + k * t:start + (k + 1) * t]) for k, name in enumerate(names)}
    return real, edits


def read_stgan_strip(path: str | Path) -> Strip:
    """Read one STGAN strip (1932x128 PNG): real | 12-px black gap | reconstruction + 13 edits.

    The identity is the file stem (the CelebA image id).
    """
    path = Path(path)
    arr = load_rgb(path)
    _check_size(path, arr, STRIP_WIDTH, STRIP_TILE, "an STGAN strip")
    real, edits = _split_strip_row(path, arr, "at x=128..139")
    return Strip("stgan_celeba128", "stgan", path.stem, str(path), real, edits)


def read_attgan_grid(path: str | Path) -> list[Strip]:
    """Read the AttGAN sample grid (1932x1664 JPEG): 13 rows laid out like STGAN strips.

    Identities are ``attgan_row00`` .. ``attgan_row12`` (the upstream gives no CelebA ids).
    """
    path = Path(path)
    arr = load_rgb(path)
    _check_size(path, arr, STRIP_WIDTH, STRIP_TILE * ATTGAN_ROWS, "the AttGAN grid")
    strips = []
    for r in range(ATTGAN_ROWS):
        row = arr[r * STRIP_TILE:(r + 1) * STRIP_TILE]
        real, edits = _split_strip_row(path, row, f"at x=128..139 of row {r}")
        strips.append(Strip("attgan_celeba128", "attgan", f"attgan_row{r:02d}", f"{path}:row{r}", real, edits))
    return strips


def read_stargan_strip(path: str | Path) -> Strip:
    """Read one disrupted-StarGAN strip (2816x256 JPEG, 11 tiles of 256 px).

    Tile 0 is the real image; then, per attribute in :data:`STARGAN_PROPERTIES`, the
    adversarially perturbed input and StarGAN's output from it. The ground truth of an
    output is taken against the *real* tile (the perturbation is small; see the data README).
    The identity is the leading number of the file name (``61-images.jpg`` -> ``61``).
    """
    path = Path(path)
    arr = load_rgb(path)
    t = STARGAN_TILE
    _check_size(path, arr, t * STARGAN_TILES, t, "a StarGAN strip")
    tiles = [np.ascontiguousarray(arr[:, k * t:(k + 1) * t]) for k in range(STARGAN_TILES)]
    inputs = {p: tiles[1 + 2 * i] for i, p in enumerate(STARGAN_PROPERTIES)}
    edits = {p: tiles[2 + 2 * i] for i, p in enumerate(STARGAN_PROPERTIES)}
    identity = path.stem.split("-")[0]
    return Strip("stargan_disrupted256", "stargan", identity, str(path), tiles[0], edits, inputs)


def stargan128_rows(n: int) -> int:
    """Rows of grid ``<n>-images.jpg`` of ``stargan_celeba128``: 16, or fewer for the last grid (see the data README)."""
    return max(0, min(STARGAN128_ROWS, STARGAN128_IMAGES - (n - 1) * STARGAN128_ROWS))


def read_stargan128_grid(path: str | Path) -> list[Strip]:
    """Read one grid of the released StarGAN-128 generator (``stargan_celeba128/results/<n>-images.jpg``).

    768 x 2048 JPEG (the last grid, ``n = 125``, is 768 x 1920): one CelebA face per row of 128 px, six
    tiles without a gap: the real image, then StarGAN's output for each of :data:`STARGAN_PROPERTIES`.
    Real and fake tiles are registered pixel for pixel; both carry JPEG noise. The identity of row ``r``
    is ``<n>-<r:02d>`` (StarGAN's test image ``16 (n - 1) + r``; rows are images, not persons: CelebA has
    about 20 photos per person and no identity file here).
    """
    path = Path(path)
    stem = path.stem.split("-")[0]
    if not stem.isdigit() or stargan128_rows(int(stem)) == 0:
        raise ValueError(f"{path}: expected a grid named <n>-images.jpg with n in 1..125")
    n, t = int(stem), STARGAN128_TILE
    rows = stargan128_rows(n)
    arr = load_rgb(path)
    _check_size(path, arr, t * (1 + len(STARGAN_PROPERTIES)), t * rows, f"StarGAN-128 grid {n} ({rows} rows)")
    strips = []
    for r in range(rows):
        row = arr[r * t:(r + 1) * t]
        tiles = [np.ascontiguousarray(row[:, k * t:(k + 1) * t]) for k in range(1 + len(STARGAN_PROPERTIES))]
        edits = dict(zip(STARGAN_PROPERTIES, tiles[1:]))
        strips.append(Strip("stargan_celeba128", "stargan", f"{n}-{r:02d}", f"{path}:row{r}", tiles[0], edits))
    return strips


def rebuild_attgan_real(raw: np.ndarray, gan: str) -> np.ndarray:
    """The 128 x 128 real a generator of ``attgan_attentiongan_celeba128`` saw, rebuilt from the raw CelebA image.

    ``attgan``: the whole 178 x 218 image resized to 128 x 128 (aspect squashed); ``attentiongan``: the
    centre 178 x 178 (rows 20..197) resized to 128 x 128. Bilinear, as torchvision's ``Resize`` on a PIL
    image (measured on the mirror: the fakes' difference to this rebuild is smallest at zero shift).
    """
    from PIL import Image

    if raw.shape[:2] != (218, 178):
        raise ValueError(f"a raw CelebA image must be 178x218 (width x height), got {raw.shape[1]}x{raw.shape[0]}")
    if gan == "attentiongan":
        raw = raw[20:198]
    elif gan != "attgan":
        raise ValueError(f"unknown generator {gan!r}; expected 'attgan' or 'attentiongan'")
    return np.asarray(Image.fromarray(raw).resize((128, 128), Image.BILINEAR))


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` saved once as a JPEG of ``quality`` with Pillow's default settings (4:2:0), read back."""

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as img:
        return np.asarray(img.convert("RGB"))


def read_attgan_attentiongan(root: str | Path, errors: list[str] | None = None) -> list[Item]:
    """Read ``attgan_attentiongan_celeba128``: per raw CelebA face, its reals and its AttGAN / AttentionGAN edits.

    ::

        root/testData/images/<6-digit n>.jpg                        the raw 178 x 218 CelebA image
        root/results/testData/attgan/<property>/<n>_<property>.jpg  128 x 128 JPEG q75 (ATTGAN128_PROPERTIES)
        root/results/testData/attentiongan/<property>/<n>_<property>.jpg   (ATTENTIONGAN_PROPERTIES)

    Per face ``n`` and generator, the real is rebuilt with that generator's input transform
    (:func:`rebuild_attgan_real`) and saved as a JPEG of quality 75 like the fakes
    (:data:`ATTGAN128_JPEG_QUALITY`): that is the real a locator is shown -- a lossless real beside JPEG
    fakes would teach it that 8 x 8 JPEG blocks mean "fake" -- and the reference of each fake's eq.-4
    map, as in ``stargan_celeba128`` where real and fake tiles are both JPEG (a splice of a fake into its
    reference then carries one compression throughout). Two reals per face
    (sources ``...#real-attgan`` and ``...#real-attentiongan``); identity ``n`` (no leading zeros), fakes'
    ``gan`` is the generator. A missing edit file is a bad file (named); bad files: see :func:`read_each`.
    """
    root = Path(root)
    raws = _image_files(root / "testData" / "images", exts=(".jpg",))
    if not raws:
        raise FileNotFoundError(f"{root / 'testData' / 'images'}: no images found")
    results = root / "results" / "testData"
    plan = (("attgan", ATTGAN128_PROPERTIES), ("attentiongan", ATTENTIONGAN_PROPERTIES))
    set_name = "attgan_attentiongan_celeba128"

    def read(raw_path: Path) -> list[Item]:
        n = str(int(raw_path.stem))
        raw = load_rgb(raw_path)
        _check_size(raw_path, raw, 178, 218, "a raw CelebA image")
        out = []
        for gan, props in plan:
            real = jpeg_roundtrip(rebuild_attgan_real(raw, gan), ATTGAN128_JPEG_QUALITY)
            out.append(Item(real, None, 0, set_name, "real", REAL, n, f"{raw_path}#real-{gan}"))
            for prop in props:
                f = results / gan / prop / f"{n}_{prop}.jpg"
                fake = load_rgb(f)
                _check_size(f, fake, 128, 128, f"an {gan} edit")
                out.append(Item(fake, real, 1, set_name, gan, prop, n, str(f)))
        return out

    per_face = read_each(raws, read, errors)
    return [it for items in per_face for it in items]


def _require_dir(folder: Path) -> Path:
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ValueError(f"{folder}: is not a folder")
    return folder


def _image_files(folder: Path, exts=(".png", ".jpg", ".jpeg")) -> list[Path]:
    return sorted(p for p in _require_dir(folder).iterdir() if p.suffix.lower() in exts and p.is_file())


def read_interfacegan(root: str | Path, size: int = 256, errors: list[str] | None = None) -> list[Item]:
    """Read ``interfacegan_celebahq256``: ``real/*.png`` (label 0) and ``fake/*.png`` ("Entire", label 1).

    Identities are ``real/<stem>`` and ``fake/<stem>``. Every image must be ``size x size``. Bad
    files: see :func:`read_each` (``errors``).
    """
    root = Path(root)
    items, bad = [], []
    for sub, label in (("real", 0), ("fake", 1)):
        files = _image_files(root / sub)
        if not files:
            raise FileNotFoundError(f"{root / sub}: no images found")
        gan, prop = ("real", REAL) if label == 0 else ("interfacegan", ENTIRE)

        def read(f: Path, sub=sub, label=label, gan=gan, prop=prop) -> Item:
            img = load_rgb(f)
            _check_size(f, img, size, size, "an InterFaceGAN image")
            return Item(img, None, label, "interfacegan_celebahq256", gan, prop, f"{sub}/{f.stem}", str(f))

        items += read_each(files, read, bad)
    _report(bad, errors)
    return items


@dataclass(frozen=True, eq=False)
class ParsingSample:
    """A CelebAMask-HQ face and its 19-class label map (0 background ... 18 cloth)."""

    image: np.ndarray   # HxWx3 uint8
    label: np.ndarray   # HxW uint8 class indices
    identity: str
    source: str


def read_celebamask_pair(image_path: str | Path, label_path: str | Path) -> ParsingSample:
    """Read one CelebAMask-HQ image and its label map; sizes must match, classes must be 0..18."""
    image_path, label_path = Path(image_path), Path(label_path)
    img = load_rgb(image_path)
    lab = load_label(label_path)
    if img.shape[:2] != lab.shape:
        raise ValueError(
            f"{label_path}: label is {lab.shape[1]}x{lab.shape[0]} but image {image_path} is "
            f"{img.shape[1]}x{img.shape[0]}"
        )
    if lab.size and int(lab.max()) > 18:
        raise ValueError(f"{label_path}: class index {int(lab.max())} outside 0..18")
    return ParsingSample(img, lab, image_path.stem, str(image_path))


def read_celebamask(root: str | Path, ids: list[str] | None = None) -> list[ParsingSample]:
    """Read ``celebamask_hq/images/<i>.jpg`` with ``labels/<i>.png`` (all, or the given ids)."""
    root = Path(root)
    _require_dir(root / "images")
    _require_dir(root / "labels")
    if ids is None:
        ids = sorted((p.stem for p in (root / "images").glob("*.jpg")), key=lambda s: (len(s), s))
    return [read_celebamask_pair(root / "images" / f"{i}.jpg", root / "labels" / f"{i}.png") for i in ids]


def read_generic(root: str | Path, errors: list[str] | None = None) -> list[Item]:
    """Read a user's folder in the generic layout.

    ::

        root/real/<name>.png                      real images (label 0)
        root/fake/<gan>/<property>/<name>.png     partial edits, paired with real/<name>.* by name
        root/fake/<gan>/Entire/<anything>.png     whole-image syntheses, unpaired (map of ones)

    PNG or JPEG. A fake must have the same size as its real image. Identities are the
    names (``<name>``); Entire images use ``<gan>/Entire/<stem>``. Bad files (unreadable, a
    fake without its real or of another size): see :func:`read_each` (``errors``).
    """
    root = Path(root)
    _require_dir(root)
    real_dir, fake_dir = root / "real", root / "fake"
    if not real_dir.is_dir() and not fake_dir.is_dir():
        raise FileNotFoundError(f"{root}: neither real/ nor fake/ found (expected the generic layout)")
    reals: dict[str, tuple[Path, np.ndarray]] = {}
    bad: list[str] = []

    def read_real(f: Path) -> None:
        if f.stem in reals:
            raise ValueError(f"{f}: two real images share the name {f.stem!r}")
        reals[f.stem] = (f, load_rgb(f))

    if real_dir.is_dir():
        read_each(_image_files(real_dir), read_real, bad)
    items = [Item(img, None, 0, "generic", "real", REAL, name, str(f)) for name, (f, img) in reals.items()]

    def read_fake(f: Path) -> Item:
        img = load_rgb(f)
        gan, prop = f.parent.parent.name.lower(), f.parent.name
        if prop == ENTIRE:
            return Item(img, None, 1, "generic", gan, ENTIRE, f"{gan}/{ENTIRE}/{f.stem}", str(f))
        if f.stem not in reals:
            raise FileNotFoundError(f"{f}: no real image named {f.stem}.* under {real_dir} to pair with")
        real_path, real = reals[f.stem]
        if real.shape != img.shape:
            raise ValueError(
                f"{f}: fake is {img.shape[1]}x{img.shape[0]} but its real {real_path} is "
                f"{real.shape[1]}x{real.shape[0]}; a pair must have the same size"
            )
        return Item(img, real, 1, "generic", gan, prop, f.stem, str(f))

    if fake_dir.is_dir():
        for gan_dir in sorted(p for p in fake_dir.iterdir() if p.is_dir()):
            for prop_dir in sorted(p for p in gan_dir.iterdir() if p.is_dir()):
                items += read_each(_image_files(prop_dir), read_fake, bad)
    _report(bad, errors)
    if not items:
        raise FileNotFoundError(f"{root}: no readable images found in real/ or fake/<gan>/<property>/")
    return items
