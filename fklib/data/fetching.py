"""Fetch the data into ``data/`` with SHA-256 verification.

Source of each file, in order of preference:

1. a local read-only mirror (default ``../shared/data``, or ``$FKLIB_DATA_MIRROR``): copied;
2. otherwise its upstream URL (``https://raw.githubusercontent.com/OWNER/NAME/COMMIT/PATH``,
   listed once in :data:`UPSTREAM`): downloaded with :func:`pooch.retrieve`.

Every file is checked against the manifest shipped in this package (``MANIFEST.sha256``, a
byte-for-byte copy of the mirror's). Files are written under a temporary name in the target
folder and renamed only once verified, so an interrupted fetch never leaves a half file under
its real name; the hidden partial files (``.<name>.<random>.part``, ``<name>`` a file of the
manifest) a killed fetch leaves behind are removed by the next one -- no other hidden file. One
fetch at a time writes into a folder (an exclusive lock on it). Files get the mode the umask
gives (``0644`` under ``022``), not ``mkstemp``'s ``0600``. Verified files are skipped on the next
run. Nothing is ever written into the mirror: a destination that is the mirror or lies inside it is
refused, and so is one that cannot be written (a file, under a file, read-only), before anything is
fetched. A file already in ``data/`` whose hash is wrong (or a folder in a file's place) is never
overwritten silently: the fetch stops naming it, unless ``repair=True`` moves it aside first
(``<name>.corrupt``, then ``<name>.corrupt.2``, ... : everything moved aside is kept).

InterFaceGAN files are stored downscaled (256 px PNG) in the mirror; the upstream holds
1024 px JPEGs. Without a mirror the JPEG is downloaded and verified against
``UPSTREAM.sha256``, then downscaled with Pillow's Lanczos filter as the mirror was made;
if the resulting PNG's hash differs from the manifest (another Pillow version may round
differently) the fetch fails naming the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from .. import paths
from ..files import folder_lock, honour_umask, prepare_out_dir, remove_partials

#: set folder -> (GitHub ``owner/name``, commit, function mapping a path inside the set to the upstream path).
UPSTREAM: dict[str, tuple[str, str, Callable[[str], str]]] = {
    "stgan_celeba128": ("rahmadai/STGAN-Implementation", "3a86733b2410d691124f4eee9915e87979c8849e",
                        lambda rel: "output/128/sample_testing/" + rel.removeprefix("strips/")),
    "attgan_celeba128": ("LynnHo/AttGAN-Tensorflow", "f1231fc", lambda rel: "pics/" + rel),
    "stargan_disrupted256": ("natanielruiz/disrupting-deepfakes", "01ba278af1a31099c245000803d601c4dff3d4db",
                             lambda rel: "stargan/results/" + rel.removeprefix("strips/")),
    "stargan_figures": ("yunjey/stargan", "94dd002", lambda rel: "jpg/" + rel),
    "celebamask_hq": ("AmuroEita/face_parsing", "12cd1e6",
                      lambda rel: "Data_preprocessing/"
                      + rel.replace("images/", "train_img_all/").replace("labels/", "train_label_all/")),
    "interfacegan_celebahq256": ("santaz-sahithi/InterfaceGAN", "1401546", None),  # see _interfacegan_upstream
    "stargan_celeba128": ("ZoeLiao/VT-CS5804-Intro-to-AI-Mini-Project", "086181a",
                          lambda rel: "stargan_celeba_128/" + rel),
    "attgan_attentiongan_celeba128": ("chaitanyagarg58/Facial-Feature-Translation", "432e496", lambda rel: rel),
}
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
INTERFACEGAN_SIZE = 256
#: Files that exist only in the mirror (made while building it), written from this package.
PACKAGED = {"interfacegan_celebahq256/UPSTREAM.sha256": "UPSTREAM.sha256"}


class FetchError(RuntimeError):
    """One or more files could not be fetched or verified (the message names them)."""


def _package_text(name: str) -> str:
    return resources.files("fklib.data").joinpath(name).read_text()


def _parse_sums(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            sha, rel = line.split(None, 1)
            out[rel.strip().removeprefix("*")] = sha.lower()
    return out


def load_manifest() -> dict[str, str]:
    """The shipped manifest: relative path -> SHA-256 (11,235 files)."""
    return _parse_sums(_package_text("MANIFEST.sha256"))


def manifest_hash(prefix: str | tuple[str, ...] = "", manifest: dict[str, str] | None = None) -> str:
    """SHA-256 over the manifest lines under ``prefix`` (a set folder, or a tuple of them): the identity of a data version."""
    manifest = load_manifest() if manifest is None else manifest
    h = hashlib.sha256()
    for rel in sorted(manifest):
        if rel.startswith(prefix):
            h.update(f"{manifest[rel]}  {rel}\n".encode())
    return h.hexdigest()


def _interfacegan_sources() -> dict[str, tuple[str, str]]:
    """stored PNG path -> (upstream JPEG path, its SHA-256), from ``UPSTREAM.sha256``."""
    out = {}
    for line in _package_text("UPSTREAM.sha256").splitlines():
        if "->" in line:
            left, stored = line.split("->")
            sha, upstream = left.split()
            out[stored.strip()] = (upstream.strip(), sha.lower())
    return out


def upstream_url(rel: str) -> str:
    """The upstream URL of a manifest path (for InterFaceGAN: the 1024-px JPEG it was made from)."""
    set_name = rel.split("/", 1)[0]
    if set_name not in UPSTREAM:
        raise KeyError(f"{rel}: no upstream known for set {set_name!r}")
    repo, commit, mapper = UPSTREAM[set_name]
    if mapper is None:
        upstream_path = _interfacegan_sources()[rel][0]
    else:
        upstream_path = mapper(rel.split("/", 1)[1])
    return RAW_URL.format(repo=repo, commit=commit, path=upstream_path)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _atomic_write_from(target: Path, write: Callable[[io.BufferedWriter], None], expected: str, label: str) -> None:
    """Write through ``write`` into a temp file beside ``target``, verify, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(**_partial_name(target))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        got = sha256_file(Path(tmp))
        if got != expected:
            raise FetchError(f"{label}: SHA-256 {got} does not match the manifest's {expected}")
        os.replace(honour_umask(tmp), target)  # mkstemp makes 0600
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _partial_name(target: Path) -> dict:
    """``tempfile`` arguments of a partial file (or folder) of ``target``: ``.<name>.<random>.part`` beside it."""
    return {"prefix": f".{target.name}.", "suffix": ".part", "dir": target.parent}


def remove_stale_partials(dest: Path, manifest: dict[str, str]) -> int:
    """Remove the partial files and folders an interrupted fetch left in ``dest``; return how many.

    Only the names :func:`_partial_name` makes for the manifest's files (``.<name>.<random>.part`` beside
    ``<name>``) are removed, never another hidden file of the user's (``.notes.part``). Called under the
    destination's lock, so no other fetch is writing them.
    """
    names: dict[Path, set[str]] = {}
    for rel in manifest:
        target = dest / rel
        names.setdefault(target.parent, set()).add(target.name)
    return sum(remove_partials(folder, "|".join(re.escape(n) for n in sorted(found)))
               for folder, found in sorted(names.items()))


def aside_path(target: Path) -> Path:
    """Where ``--repair`` moves a corrupt ``target``: ``<name>.corrupt``, or the first free ``<name>.corrupt.<n>``."""
    aside, n = target.with_name(target.name + ".corrupt"), 1
    while aside.exists():
        n += 1
        aside = target.with_name(f"{target.name}.corrupt.{n}")
    return aside


@dataclass
class FetchReport:
    """What a fetch did: counts per action, the files moved aside, and the files that failed."""

    dest: Path
    source: str
    skipped: int = 0
    copied: int = 0
    downloaded: int = 0
    cleaned: int = 0
    moved_aside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"{self.dest}: {self.skipped} already verified, {self.copied} copied, "
                f"{self.downloaded} downloaded (source: {self.source})")
        if self.cleaned:
            text += f"; {self.cleaned} partial file(s) of an interrupted fetch removed"
        for moved in self.moved_aside:
            text += f"\n  moved aside: {moved}"
        return text


def _download_interfacegan(rel: str, target: Path, expected: str, url_for: Callable[[str], str],
                           derive: bool) -> None:
    """Download the upstream JPEG (verified), downscale to 256-px PNG, write atomically."""
    import pooch  # lazy: the downloader only when a file is not in the mirror
    from PIL import Image

    if not derive:  # a plain file server holding the mirror layout
        _pooch_get(url_for(rel), expected, target)
        return
    upstream_path, jpeg_sha = _interfacegan_sources()[rel]
    with tempfile.TemporaryDirectory(**_partial_name(target)) as tmpdir:
        jpg = pooch.retrieve(url_for(rel), known_hash=f"sha256:{jpeg_sha}", fname="upstream.jpg",
                             path=tmpdir, progressbar=False)
        with Image.open(jpg) as img:
            small = img.convert("RGB").resize((INTERFACEGAN_SIZE, INTERFACEGAN_SIZE), Image.LANCZOS)
        buf = io.BytesIO()
        small.save(buf, format="PNG")
    try:
        _atomic_write_from(target, lambda f: f.write(buf.getvalue()), expected, rel)
    except FetchError as err:
        raise FetchError(f"{rel}: made from the verified upstream JPEG {upstream_path}, but the 256-px PNG "
                         f"differs from the mirror's bytes (another Pillow version?): {err}") from None


def _pooch_get(url: str, expected: str, target: Path) -> None:
    """Download ``url`` to ``target`` with pooch (into a partial folder beside it, hash check, rename)."""
    import pooch  # lazy: the downloader only when a file is not in the mirror

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(**_partial_name(target)) as tmpdir:
        got = pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=target.name, path=tmpdir,
                             progressbar=False)
        os.replace(honour_umask(got), target)  # pooch's temporary file is 0600


def fetch(dest: str | Path | None = None, mirror: str | Path | None | bool = None,
          url_for: Callable[[str], str] | None = None, sets: list[str] | None = None,
          manifest: dict[str, str] | None = None, repair: bool = False, progress: bool = True) -> FetchReport:
    """Fill ``dest`` (default ``data/``) with every manifest file, verified.

    Args:
        dest: target folder (default :func:`fklib.paths.data_dir`).
        mirror: the local mirror folder; ``None`` uses :func:`fklib.paths.mirror_dir` when it
            exists; ``False`` never uses a mirror.
        url_for: relative path -> URL for downloads (default :func:`upstream_url`). Passing one
            means a server holding the *mirror* layout, so InterFaceGAN PNGs are fetched as is.
        sets: only these set folders (default all).
        manifest: relative path -> SHA-256 (default the shipped manifest).
        repair: move a corrupt file already in ``dest`` aside (:func:`aside_path`: ``.corrupt``,
            ``.corrupt.2``, ...) and fetch again.
        progress: show a tqdm bar.

    Returns:
        A :class:`FetchReport`.

    Raises:
        FetchError: a file is missing upstream/in the mirror, or its hash is wrong (named).
        FileNotFoundError: ``mirror`` (or ``$FKLIB_DATA_MIRROR``) is not a folder.
        ValueError: an unknown set; ``dest`` is the mirror or inside it, or cannot be written (named).
    """
    dest = Path(dest) if dest is not None else paths.data_dir()
    manifest = load_manifest() if manifest is None else manifest
    if sets:
        unknown = set(sets) - {rel.split("/", 1)[0] for rel in manifest}
        if unknown:
            raise ValueError(f"unknown set(s) {sorted(unknown)}; known: {sorted(UPSTREAM)}")
        manifest = {rel: sha for rel, sha in manifest.items() if rel.split("/", 1)[0] in sets}
    if mirror is None:
        mirror = paths.mirror_dir()
        mirror = mirror if mirror.is_dir() else False
    elif mirror is not False:
        mirror = Path(mirror)
        if not mirror.is_dir():
            raise FileNotFoundError(f"{mirror}: mirror folder does not exist")
    derive = url_for is None
    url_for = url_for or upstream_url
    if mirror is not False:
        check_not_in_mirror(dest, Path(mirror), manifest)
    report = FetchReport(dest=dest, source=str(mirror) if mirror is not False else "download")
    prepare_out_dir(dest)  # a file, under a file, read-only: one line naming it, before anything is fetched
    with folder_lock(dest):  # one fetch at a time into dest: the partial files found now are stale
        report.cleaned = remove_stale_partials(dest, manifest)
        _fetch_files(dest, manifest, mirror, url_for, derive, repair, progress, report)
    if report.failed:
        head = "\n  ".join(report.failed[:20])
        more = f"\n  ... and {len(report.failed) - 20} more" if len(report.failed) > 20 else ""
        raise FetchError(f"{len(report.failed)} file(s) could not be fetched and verified:\n  {head}{more}")
    return report


def check_not_in_mirror(dest: Path, mirror: Path, manifest: dict[str, str]) -> None:
    """Refuse a ``dest`` whose files would land in the mirror: the mirror itself, a folder inside it, or a
    folder holding the mirror where a set folder of the manifest is to be written.

    Raises:
        ValueError: naming ``dest`` and the mirror.
    """
    d, m = dest.resolve(), mirror.resolve()
    if d == m or m in d.parents:
        raise ValueError(f"{dest}: refusing to fetch into the mirror: it is inside the mirror {mirror}, "
                         "which is never written (give another --dest)")
    if d in m.parents and any(d / rel.split("/", 1)[0] in (m, *m.parents) for rel in manifest):
        raise ValueError(f"{dest}: refusing to fetch into the mirror {mirror}, which lies where a set folder "
                         "would be written (give another --dest)")


def _fetch_files(dest: Path, manifest: dict[str, str], mirror, url_for, derive: bool, repair: bool,
                 progress: bool, report: FetchReport) -> None:
    """The per-file part of :func:`fetch`: skip, move aside, copy or download each file; failures go to ``report``."""
    from tqdm.auto import tqdm  # lazy: progress bars only while fetching

    for rel in tqdm(sorted(manifest), desc="fetch", unit="file", disable=not progress):
        expected = manifest[rel]
        target = dest / rel
        try:
            if target.is_file() and sha256_file(target) == expected:
                report.skipped += 1
                continue
            if target.exists() or target.is_symlink():
                found = ("already present with a wrong SHA-256" if target.is_file() else
                         "a folder where the manifest lists a file" if target.is_dir() else
                         "in the way of the manifest's file (not a regular file)")
                if not repair:
                    report.failed.append(f"{target}: {found} (not overwritten; rerun with --repair to move it "
                                         "aside and fetch it again)")
                    continue
                aside = aside_path(target)
                target.rename(aside)
                report.moved_aside.append(str(aside))
            if mirror is not False:
                src = Path(mirror) / rel
                if not src.is_file():
                    raise FetchError(f"{src}: missing from the mirror")

                def copy(f, src=src):
                    with open(src, "rb") as s:
                        shutil.copyfileobj(s, f)
                _atomic_write_from(target, copy, expected, str(src))
                report.copied += 1
            elif rel in PACKAGED:
                text = _package_text(PACKAGED[rel]).encode()
                _atomic_write_from(target, lambda f: f.write(text), expected, rel)
                report.copied += 1
            elif rel.startswith("interfacegan_celebahq256/"):
                _download_interfacegan(rel, target, expected, url_for, derive)
                report.downloaded += 1
            else:
                _pooch_get(url_for(rel), expected, target)
                report.downloaded += 1
        except Exception as err:  # noqa: BLE001 - collected, reported together by fetch()
            msg = str(err) if rel in str(err) or str(target) in str(err) else f"{rel}: {err}"
            report.failed.append(msg)
