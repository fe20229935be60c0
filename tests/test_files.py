"""Where files are written: links kept, non-regular paths refused, modes kept, paths checked first."""

import os
import socket
import stat

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.files import check_output, write_atomically


@pytest.fixture
def model():
    net = NeuralNetwork([2, 3, 1], random_state=0)
    net.fit(np.ones((4, 2)), np.arange(4.0), epochs=1, verbose=0)
    return net


def test_saving_through_a_link_writes_the_target_and_keeps_the_link(model, tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.npz"
    target.write_bytes(b"old")
    link = tmp_path / "current.npz"
    link.symlink_to(os.path.join("models", "v1.npz"))
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("models", "v1.npz")
    assert NeuralNetwork.load(target).parameters.tobytes() == model.parameters.tobytes()
    assert sorted(os.listdir(tmp_path / "models")) == ["v1.npz"]      # no temporary left behind


def test_a_dangling_link_gets_its_target_created(model, tmp_path):
    link = tmp_path / "current.npz"
    link.symlink_to(tmp_path / "new.npz")
    model.save(link)
    assert link.is_symlink() and (tmp_path / "new.npz").is_file()


@pytest.mark.parametrize("make", ["fifo", "directory", "socket", "link to a directory"])
def test_a_path_that_is_not_a_regular_file_is_refused_and_left_alone(model, tmp_path, make):
    path = tmp_path / "out.npz"
    if make == "fifo":
        os.mkfifo(path)
    elif make == "directory":
        path.mkdir()
    elif make == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        (tmp_path / "d").mkdir()
        path.symlink_to(tmp_path / "d")
    before = os.lstat(path)
    with pytest.raises(ValueError, match="not a regular file"):
        model.save(path)
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(os.listdir(tmp_path)) in (["out.npz"], ["d", "out.npz"])


def test_a_character_device_is_refused(model):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    with pytest.raises(ValueError, match="/dev/null is a character device"):
        model.save("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_new_files_follow_the_umask_and_overwrites_keep_the_mode(model, tmp_path):
    old = os.umask(0o027)
    try:
        model.save(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o640
    existing = tmp_path / "shared.npz"
    existing.write_bytes(b"old")
    existing.chmod(0o664)
    model.save(existing)
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o664


def test_check_output_names_the_path_the_user_gave(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="--output: cannot write missing/m.npz: directory missing does not exist"):
        check_output("missing/m.npz", "--output")
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    with pytest.raises(ValueError, match="also an input"):
        check_output(data, "--output", inputs=[data])
    link = tmp_path / "alias.csv"
    link.symlink_to(data)
    with pytest.raises(ValueError, match="also an input"):
        check_output(link, "--output", inputs=[data])
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    with pytest.raises(ValueError, match="also an input"):
        check_output(hard, "--output", inputs=[data])
    with pytest.raises(ValueError, match="also an input"):
        check_output(tmp_path / "." / "d.csv", "--output", inputs=[data])


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_output_refuses_an_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            check_output(locked / "m.npz", "--output")
    finally:
        locked.chmod(0o700)


def test_a_failing_writer_leaves_nothing_behind(tmp_path):
    def broken(handle):
        handle.write(b"half")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "x.bin", broken)
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_directory_names_the_path_given(model, tmp_path):
    with pytest.raises(OSError, match="path: cannot write .*missing/m.npz"):
        model.save(tmp_path / "missing" / "m.npz")


def test_a_checkpoint_path_that_cannot_be_written_stops_fit_before_the_first_epoch(tmp_path):
    from backpropagation import Callback, ModelCheckpoint

    class CountEpochs(Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs):
            CountEpochs.epochs += 1

    net = NeuralNetwork([2, 1], random_state=0)
    with pytest.raises(ValueError, match="ModelCheckpoint filepath: cannot write .*directory .*missing"):
        net.fit(np.ones((4, 2)), np.arange(4.0), epochs=3, verbose=0,
                callbacks=[CountEpochs(), ModelCheckpoint(tmp_path / "missing" / "best.npz")])
    assert CountEpochs.epochs == 0


def test_a_full_disk_names_the_file_and_keeps_the_previous_one(model, tmp_path, monkeypatch, capsys):
    import errno

    from backpropagation.cli import main

    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()

    def full_disk(handle, **arrays):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match=rf"cannot write {path}: No space left on device; the previous file"):
        model.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]
    data = tmp_path / "d.csv"
    data.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    assert main(["train", str(data), "--target", "y", "--epochs", "1", "--quiet", "-o", str(path)]) != 0
    err = capsys.readouterr().err
    assert f"cannot write {path}: No space left on device" in err and "Traceback" not in err
    assert path.read_bytes() == before
