"""fetch: verified copies from a mirror, downloads from a local HTTP server, atomic writes, clear errors."""

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from fklib import paths
from fklib.data import fetching
from fklib.data.fetching import FetchError, fetch, load_manifest, manifest_hash, upstream_url
from conftest import kill_once_started, mode, one_error_line, read_only, tree_snapshot, umask


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mini(tmp_path):
    """A three-file mirror and its manifest."""
    mirror = tmp_path / "mirror"
    files = {"setA/x/one.bin": b"first file" * 100, "setA/two.bin": b"\x00\x01second", "setB/three.txt": b"3"}
    for rel, data in files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(data)
    manifest = {rel: sha(data) for rel, data in files.items()}
    return mirror, manifest, files


def no_partials(folder: Path) -> bool:
    return not any(p.name.endswith(".part") or p.name.startswith(".") for p in folder.rglob("*"))


def test_copies_from_mirror_then_skips(tmp_path, mini):
    mirror, manifest, files = mini
    before = tree_snapshot(mirror)
    dest = tmp_path / "data"
    report = fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert (report.copied, report.skipped) == (3, 0)
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data
    again = fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert (again.copied, again.skipped) == (0, 3)
    assert tree_snapshot(mirror) == before          # the mirror is never written


def test_corrupt_mirror_file_is_named_and_not_written(tmp_path, mini):
    mirror, manifest, _ = mini
    (mirror / "setA/two.bin").write_bytes(b"tampered")
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match=r"setA/two.bin.*does not match"):
        fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert not (dest / "setA/two.bin").exists()
    assert (dest / "setB/three.txt").exists()        # the good files still arrived
    assert no_partials(dest)


def test_missing_mirror_file_is_named(tmp_path, mini):
    mirror, manifest, _ = mini
    (mirror / "setB/three.txt").unlink()
    with pytest.raises(FetchError, match=r"setB/three.txt: missing from the mirror"):
        fetch(tmp_path / "data", mirror=mirror, manifest=manifest, progress=False)


def test_interrupted_copy_leaves_no_file_under_its_name(tmp_path, mini, monkeypatch):
    mirror, manifest, _ = mini
    calls = []

    def boom(src, dst, *a, **k):
        dst.write(b"half")
        calls.append(1)
        raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(fetching.shutil, "copyfileobj", boom)
    dest = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert calls and not any(p.is_file() for p in dest.rglob("*"))


def test_corrupt_local_copy_is_not_overwritten_unless_repair(tmp_path, mini):
    mirror, manifest, files = mini
    dest = tmp_path / "data"
    fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    (dest / "setA/two.bin").write_bytes(b"my edits")
    with pytest.raises(FetchError, match=r"two.bin: already present with a wrong SHA-256"):
        fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert (dest / "setA/two.bin").read_bytes() == b"my edits"
    fetch(dest, mirror=mirror, manifest=manifest, progress=False, repair=True)
    assert (dest / "setA/two.bin").read_bytes() == files["setA/two.bin"]
    assert (dest / "setA/two.bin.corrupt").read_bytes() == b"my edits"   # moved aside, not lost


def test_refuses_to_fetch_into_the_mirror(mini):
    mirror, manifest, _ = mini
    with pytest.raises(ValueError, match="into the mirror"):
        fetch(mirror, mirror=mirror, manifest=manifest, progress=False)


@pytest.fixture
def http_mirror(mini):
    """Serve the mini mirror on 127.0.0.1 (no real network)."""
    mirror, manifest, files = mini
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", mirror, manifest, files
    server.shutdown()
    server.server_close()


def test_download_path_verifies_and_renames(tmp_path, http_mirror):
    base, _, manifest, files = http_mirror
    dest = tmp_path / "data"
    report = fetch(dest, mirror=False, url_for=lambda rel: f"{base}/{rel}", manifest=manifest, progress=False)
    assert report.downloaded == 3
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data
    assert no_partials(dest)
    again = fetch(dest, mirror=False, url_for=lambda rel: f"{base}/{rel}", manifest=manifest, progress=False)
    assert again.skipped == 3 and again.downloaded == 0


def test_download_with_wrong_hash_writes_nothing(tmp_path, http_mirror):
    base, mirror, manifest, _ = http_mirror
    (mirror / "setA/x/one.bin").write_bytes(b"served but wrong")
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match=r"setA/x/one.bin"):
        fetch(dest, mirror=False, url_for=lambda rel: f"{base}/{rel}", manifest=manifest, progress=False)
    assert not (dest / "setA/x/one.bin").exists() and no_partials(dest)


def test_download_404_is_named(tmp_path, http_mirror):
    base, mirror, manifest, _ = http_mirror
    (mirror / "setB/three.txt").unlink()
    with pytest.raises(FetchError, match=r"setB/three.txt"):
        fetch(tmp_path / "d", mirror=False, url_for=lambda rel: f"{base}/{rel}", manifest=manifest, progress=False)


def test_cli_base_url(tmp_path, http_mirror, monkeypatch, capsys):
    from fklib.data.__main__ import main

    base, _, manifest, files = http_mirror
    monkeypatch.setattr(fetching, "load_manifest", lambda: manifest)
    assert main(["fetch", "--dest", str(tmp_path / "d"), "--base-url", base, "--quiet"]) == 0
    assert "3 downloaded" in capsys.readouterr().out
    assert main(["fetch", "--dest", str(tmp_path / "d"), "--mirror", str(tmp_path / "nowhere"), "--quiet"]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_upstream_urls_for_every_set():
    assert upstream_url("stgan_celeba128/strips/182799.png") == (
        "https://raw.githubusercontent.com/rahmadai/STGAN-Implementation/"
        "3a86733b2410d691124f4eee9915e87979c8849e/output/128/sample_testing/182799.png")
    assert upstream_url("attgan_celeba128/sample_validation.jpg").endswith(
        "LynnHo/AttGAN-Tensorflow/f1231fc/pics/sample_validation.jpg")
    assert upstream_url("stargan_disrupted256/strips/61-images.jpg").endswith("stargan/results/61-images.jpg")
    assert upstream_url("stargan_figures/result_celeba1.jpg").endswith("yunjey/stargan/94dd002/jpg/result_celeba1.jpg")
    assert upstream_url("celebamask_hq/images/7.jpg").endswith("Data_preprocessing/train_img_all/7.jpg")
    assert upstream_url("celebamask_hq/labels/7.png").endswith("Data_preprocessing/train_label_all/7.png")
    assert upstream_url("interfacegan_celebahq256/fake/000000.png").endswith(
        "santaz-sahithi/InterfaceGAN/1401546/Fake_Dataset/Train/Fake_Faces/000000.jpg")
    manifest = load_manifest()
    for rel in manifest:
        if rel not in fetching.PACKAGED:
            assert upstream_url(rel).startswith("https://raw.githubusercontent.com/")


def test_shipped_manifest_matches_the_mirror():
    mirror = paths.mirror_dir()
    if not (mirror / "MANIFEST.sha256").is_file():
        pytest.skip(f"{mirror}: no local mirror")
    text = (mirror / "MANIFEST.sha256").read_text()
    assert fetching._parse_sums(text) == load_manifest()
    assert len(load_manifest()) == 11235


def test_real_mirror_set_fetch_verifies(tmp_path):
    mirror = paths.mirror_dir()
    if not mirror.is_dir():
        pytest.skip(f"{mirror}: no local mirror")
    report = fetch(tmp_path / "d", mirror=mirror, sets=["attgan_celeba128", "stargan_figures"], progress=False)
    assert report.copied == 3
    data = (tmp_path / "d" / "attgan_celeba128" / "sample_validation.jpg").read_bytes()
    assert sha(data) == load_manifest()["attgan_celeba128/sample_validation.jpg"]
    with pytest.raises(ValueError, match="unknown set"):
        fetch(tmp_path / "d", mirror=mirror, sets=["nope"], progress=False)


def test_manifest_hash_depends_on_content():
    m = {"a/x": "1" * 64, "b/y": "2" * 64}
    assert manifest_hash("a/", m) != manifest_hash("b/", m)
    assert manifest_hash("a/", m) == manifest_hash("a/", {**m, "b/y": "3" * 64})


def test_mirror_variable_pointing_nowhere_is_an_error_not_a_download(tmp_path, mini, monkeypatch, capsys):
    from fklib.data.__main__ import main

    _, manifest, _ = mini
    downloads = []
    monkeypatch.setattr(fetching, "_pooch_get", lambda url, *a: downloads.append(url))
    monkeypatch.setattr(fetching, "load_manifest", lambda: manifest)
    nowhere = tmp_path / "no-such-mirror"
    monkeypatch.setenv("FKLIB_DATA_MIRROR", str(nowhere))
    with pytest.raises(FileNotFoundError, match=f"FKLIB_DATA_MIRROR={nowhere}.*does not exist"):
        fetch(tmp_path / "data", manifest=manifest, progress=False)
    assert main(["fetch", "--dest", str(tmp_path / "data"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FKLIB_DATA_MIRROR" in err and str(nowhere) in err
    assert downloads == [] and not (tmp_path / "data" / "setA").exists()


def test_repair_twice_keeps_every_file_moved_aside(tmp_path, mini):
    mirror, manifest, files = mini
    dest = tmp_path / "data"
    fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    target = dest / "setA/two.bin"
    for edit in (b"first edit", b"second edit", b"third edit"):
        target.write_bytes(edit)
        report = fetch(dest, mirror=mirror, manifest=manifest, progress=False, repair=True)
        assert target.read_bytes() == files["setA/two.bin"]
        assert len(report.moved_aside) == 1 and "moved aside" in str(report)
    assert (dest / "setA/two.bin.corrupt").read_bytes() == b"first edit"
    assert (dest / "setA/two.bin.corrupt.2").read_bytes() == b"second edit"
    assert (dest / "setA/two.bin.corrupt.3").read_bytes() == b"third edit"


def test_partial_files_of_a_killed_fetch_are_removed_by_the_next(tmp_path, mini):
    """SIGKILL during a copy leaves a hidden ``.<name>.*.part``; the next fetch removes it and completes."""
    mirror, manifest, files = mini
    dest, started = tmp_path / "data", tmp_path / "started"
    code = (
        "import time\n"
        "from fklib.data import fetching\n"
        "def stuck(src, dst, *a, **k):\n"
        "    dst.write(b'half'); dst.flush(); open(%r, 'w').close(); time.sleep(120)\n"
        "fetching.shutil.copyfileobj = stuck\n"
        "fetching.fetch(%r, mirror=%r, manifest=%r, progress=False)\n" % (str(started), str(dest), str(mirror), manifest)
    )
    kill_once_started(code, [], started, "fetch", timeout=60)
    left = [p for p in dest.rglob(".*.part")]
    assert len(left) == 1 and left[0].read_bytes() == b"half"
    report = fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert report.cleaned == 1 and "interrupted fetch removed" in str(report)
    assert no_partials(dest)
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data


# --- issue 24: permissions, partial names, the destination, folders in a file's place ------------------

@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_fetched_files_honour_the_umask(tmp_path, http_mirror, mask, file_mode, dir_mode):
    """Item 4: copied and downloaded files were 0600 (mkstemp, pooch's temporary file) whatever the umask."""
    base, mirror, manifest, _ = http_mirror
    with umask(mask):
        fetch(tmp_path / "copied", mirror=mirror, manifest=manifest, progress=False)
        fetch(tmp_path / "downloaded", mirror=False, url_for=lambda rel: f"{base}/{rel}", manifest=manifest,
              progress=False)
    for dest in (tmp_path / "copied", tmp_path / "downloaded"):
        for rel in manifest:
            assert mode(dest / rel) == file_mode, (dest / rel, oct(mode(dest / rel)))
        assert mode(dest / "setA" / "x") == dir_mode


def test_stale_cleanup_removes_only_the_partial_files_fetch_makes(tmp_path, mini):
    """Item 5: every ``.*.part`` of a set folder was removed, a user's own ``.notes.part`` included."""
    mirror, manifest, _ = mini
    dest = tmp_path / "data"
    fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    mine = {dest / "setA" / ".notes.part": b"my notes", dest / "setA" / ".two.bin.part": b"not fetch's name",
            dest / "setA" / ".other.bin.abc123xy.part": b"no such file in the manifest"}
    for p, data in mine.items():
        p.write_bytes(data)
    (dest / "setA" / ".keep.part").mkdir()
    stale = [dest / "setA" / ".two.bin.k3j_a9zq.part", dest / "setA" / "x" / ".one.bin.0a1b2c3d.part"]
    stale[0].write_bytes(b"half")
    stale[1].mkdir()                                   # a download's partial folder
    (stale[1] / "one.bin").write_bytes(b"half")
    report = fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert report.cleaned == 2 and not any(p.exists() for p in stale)
    assert {p: p.read_bytes() for p in mine} == mine and (dest / "setA" / ".keep.part").is_dir()


def test_a_destination_inside_the_mirror_is_refused(tmp_path, mini, capsys):
    """Item 5: ``fetch --dest MIRROR/sub`` wrote into the mirror tree."""
    from fklib.data.__main__ import main

    mirror, manifest, _ = mini
    before = tree_snapshot(mirror)
    with pytest.raises(ValueError, match="inside the mirror"):
        fetch(mirror / "sub", mirror=mirror, manifest=manifest, progress=False)
    with pytest.raises(ValueError, match="inside the mirror"):
        fetch(mirror / "setA" / "..", mirror=mirror, manifest=manifest, progress=False)
    assert main(["fetch", "--dest", str(mirror / "sub"), "--mirror", str(mirror), "--quiet"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert str(mirror / "sub") in line and str(mirror) in line
    assert tree_snapshot(mirror) == before and not (mirror / "sub").exists()


def test_a_destination_that_cannot_be_written_is_one_line(tmp_path, mini, capsys, monkeypatch):
    """Item 6: ``--dest`` that is a file, lies under a file, or is missing in a read-only folder gave a traceback."""
    from fklib.data.__main__ import main

    mirror, manifest, _ = mini
    monkeypatch.setattr(fetching, "load_manifest", lambda: manifest)
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    ro = tmp_path / "ro"
    ro.mkdir()
    for dest in (f, f / "sub"):
        assert main(["fetch", "--dest", str(dest), "--mirror", str(mirror), "--quiet"]) == 1
        assert str(dest) in one_error_line(capsys.readouterr().err)
    with read_only(ro):
        assert main(["fetch", "--dest", str(ro / "data"), "--mirror", str(mirror), "--quiet"]) == 1
        line = one_error_line(capsys.readouterr().err)
    assert str(ro / "data") in line and "cannot write" in line
    assert f.read_text() == "keep me" and not any(ro.iterdir())


def test_repair_moves_a_folder_in_a_files_place_aside(tmp_path, mini):
    """Item 9: a folder where the manifest lists a file gave ``IsADirectoryError`` (the hash check ran outside
    the per-file handling): it is named, and ``--repair`` moves it aside like a corrupt file."""
    mirror, manifest, files = mini
    dest = tmp_path / "data"
    (dest / "setA" / "two.bin").mkdir(parents=True)
    (dest / "setA" / "two.bin" / "mine.txt").write_text("keep me")
    with pytest.raises(FetchError, match=r"two.bin: a folder where the manifest lists a file"):
        fetch(dest, mirror=mirror, manifest=manifest, progress=False)
    assert (dest / "setB" / "three.txt").read_bytes() == files["setB/three.txt"]   # the others still arrived
    report = fetch(dest, mirror=mirror, manifest=manifest, progress=False, repair=True)
    assert (dest / "setA" / "two.bin").read_bytes() == files["setA/two.bin"]
    assert (dest / "setA" / "two.bin.corrupt" / "mine.txt").read_text() == "keep me"
    assert report.moved_aside == [str(dest / "setA" / "two.bin.corrupt")]
