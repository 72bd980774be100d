"""Every way the command line can fail ends in one `error:` line, a non-zero status, no traceback,
and no file changed. Table-driven: each case sets up its files, runs `main`, and compares a
snapshot of the whole folder before and after."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from tests.reliability import cli, make_images, png_header_only, snapshot, train_args
from upsampling.cli import main


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Images, a finished 2-epoch run and a run stopped mid-epoch (--max-steps 1)."""
    root = tmp_path_factory.mktemp("base")
    images = make_images(root / "images")
    assert main(train_args(images, root / "finished", 2)) == 0
    assert main(train_args(images, root / "partial", 2, "--max-steps", "1")) == 0
    return root


class Ctx:
    def __init__(self, base, tmp):
        self.base, self.tmp = base, tmp
        self.images = base / "images"

    def copy(self, name):
        """A copy of one of the base runs inside this case's folder."""
        shutil.copytree(self.base / name, self.tmp / name)
        return self.tmp / name

    def train(self, out, *extra, epochs=2):
        return train_args(self.images, out, epochs, *extra)

    def resume_damaged(self, damage):
        """A copy of the mid-epoch run whose checkpoint `damage(path)` spoiled, resumed."""
        run = self.copy("partial")
        damage(run / "checkpoint.npz")
        return self.train(run, "--resume")

    def generator(self):
        return str(self.copy("finished") / "generator.keras")


def _rewrite_checkpoint(path, edit):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    if "meta" in arrays:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    edit(arrays, meta)
    if arrays["meta"].tobytes() != b"[" * 100000:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(np.random.default_rng(0).bytes(5000))


def _bad_order(path):
    _rewrite_checkpoint(path, lambda a, m: a.__setitem__("order", np.zeros_like(a["order"])))


def _deep_json(path):
    _rewrite_checkpoint(path, lambda a, m: a.__setitem__("meta", np.frombuffer(b"[" * 100000, np.uint8)))


def _bad_position(path):
    _rewrite_checkpoint(path, lambda a, m: m.update(step=m["step"] + 5))


def _missing_weight(path):
    _rewrite_checkpoint(path, lambda a, m: a.pop("g_weight_0000"))


def _wrong_weight_shape(path):
    _rewrite_checkpoint(path, lambda a, m: a.__setitem__("d_weight_0000", np.zeros((1, 1), np.float32)))


def _huge_member(path):
    """A zip member whose directory entry claims 2 GiB (a zip bomb, as far as sizes go)."""
    import struct
    import zipfile
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("padding.npy", b"x")
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the last central-directory entry: the member just added
    assert data[entry + 46:entry + 46 + 11] == b"padding.npy"
    data[entry + 24:entry + 28] = struct.pack("<I", 2**31)  # its uncompressed size
    path.write_bytes(bytes(data))


def _file(ctx, name="a_file"):
    (ctx.tmp / name).write_text("not a folder")
    return ctx.tmp / name


def _read_only_folder(ctx):
    folder = ctx.tmp / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                        capture_output=True).returncode != 0:
        pytest.skip("running as root without permission to mount a read-only file system")
    ctx.cleanup = lambda: (subprocess.run(["umount", "-l", str(folder)], capture_output=True)
                           if os.geteuid() == 0 else folder.chmod(0o755))
    return folder


def _changed_images(ctx):
    images = ctx.tmp / "images"
    shutil.copytree(ctx.images, images)
    assert main(train_args(images, ctx.tmp / "run", 2, "--max-steps", "1")) == 0
    make_images(images, n=1, seed=99)  # one image replaced by another
    return train_args(images, ctx.tmp / "run", 2, "--resume")


def _folder_with(ctx, *files):
    folder = make_images(ctx.tmp / "imgs", n=4)
    for f in files:
        f(folder)
    return train_args(folder, ctx.tmp / "run", 2, "--batch-size", "2")


def _empty_folder(ctx):
    (ctx.tmp / "empty").mkdir()
    return ctx.tmp / "empty"


def _save_generator(ctx, shape):
    from upsampling.gan.dcgan import make_generator
    make_generator(4, shape, "transpose", 4).save(ctx.tmp / "g12.model")
    return str(ctx.tmp / "g12.model")


def _save_dense_model(ctx):
    from upsampling.layers import Dense, Input
    from upsampling.models import Sequential
    Sequential([Input((3,)), Dense(2)]).save(ctx.tmp / "dense.model")
    return str(ctx.tmp / "dense.model")


CASES = [
    # ------------------------------------------------------------------ train: settings
    ("batch-size 0", lambda c: c.train(c.tmp / "r", "--batch-size", "0"), 2, "--batch-size must be an integer >= 2"),
    ("batch-size 1", lambda c: c.train(c.tmp / "r", "--batch-size", "1"), 2, "--batch-size must be an integer >= 2"),
    ("batch-size negative", lambda c: c.train(c.tmp / "r", "--batch-size", "-8"), 2, "Received: -8"),
    ("batch-size over the data", lambda c: c.train(c.tmp / "r", "--batch-size", "17"), 2,
     "larger than the data set (16 images"),
    ("epochs 0", lambda c: c.train(c.tmp / "r", epochs=0), 2, "--epochs must be an integer >= 1"),
    ("epochs negative", lambda c: c.train(c.tmp / "r", epochs=-3), 2, "--epochs must be an integer >= 1"),
    ("max-steps 0", lambda c: c.train(c.tmp / "r", "--max-steps", "0"), 2, "--max-steps must be an integer >= 1"),
    ("max-steps negative", lambda c: c.train(c.tmp / "r", "--max-steps", "-5"), 2, "Received: -5"),
    ("learning-rate 0", lambda c: c.train(c.tmp / "r", "--learning-rate", "0"), 2,
     "--learning-rate must be a positive"),
    ("learning-rate negative", lambda c: c.train(c.tmp / "r", "--learning-rate", "-0.001"), 2,
     "--learning-rate must be a positive"),
    ("learning-rate nan", lambda c: c.train(c.tmp / "r", "--learning-rate", "nan"), 2,
     "--learning-rate must be a positive"),
    ("latent-dim 0", lambda c: c.train(c.tmp / "r", "--latent-dim", "0"), 2, "--latent-dim must be"),
    ("learning-rate beyond float32", lambda c: c.train(c.tmp / "r", "--learning-rate", "1e308"), 2,
     "finite in float32"),
    ("filters 0", lambda c: c.train(c.tmp / "r", "--filters", "0"), 2, "--filters must be"),
    ("seed negative", lambda c: c.train(c.tmp / "r", "--seed", "-1"), 2, "--seed must be"),
    ("epochs not a number", lambda c: c.train(c.tmp / "r", epochs="x"), 2, "argument --epochs: invalid int"),
    ("unknown upsampler", lambda c: c.train(c.tmp / "r", "--upsampler", "magic"), 2, "argument --upsampler"),
    ("unknown architecture", lambda c: c.train(c.tmp / "r", "--architecture", "keras"), 2, "argument --architecture"),
    # ------------------------------------------------------------------ train: the run folder
    ("out is a file", lambda c: c.train(_file(c)), 2, "is a file, not a folder"),
    ("out under a file", lambda c: c.train(_file(c) / "run"), 2, "is a file, not a folder"),
    ("out read-only", lambda c: c.train(_read_only_folder(c) / "run"), 2, "is not writable"),
    ("out holds a finished run", lambda c: c.train(c.copy("finished")), 2,
     "already holds a run (checkpoint.npz, generator.keras). Continue it with --resume, replace it with --overwrite"),
    ("out holds a stopped run", lambda c: c.train(c.copy("partial")), 2, "already holds a run (checkpoint.npz)"),
    ("resume and overwrite", lambda c: c.train(c.copy("partial"), "--resume", "--overwrite"), 2, "contradict"),
    ("resume without checkpoint", lambda c: c.train(c.tmp / "new", "--resume"), 2, "no checkpoint at"),
    ("resume other settings", lambda c: c.train(c.copy("partial"), "--resume", "--filters", "5"), 2,
     "other settings"),
    ("resume changed images", _changed_images, 2, "are not the ones the checkpoint"),
    # ------------------------------------------------------------------ train: damaged checkpoints
    ("checkpoint truncated", lambda c: c.resume_damaged(_truncate), 2, "is damaged"),
    ("checkpoint garbage", lambda c: c.resume_damaged(_garbage), 2, "is damaged"),
    ("checkpoint order damaged", lambda c: c.resume_damaged(_bad_order), 2, "not a permutation"),
    ("checkpoint meta nested", lambda c: c.resume_damaged(_deep_json), 2, "is damaged"),
    ("checkpoint position", lambda c: c.resume_damaged(_bad_position), 2, "inconsistent position"),
    ("checkpoint weight missing", lambda c: c.resume_damaged(_missing_weight), 2, "is damaged"),
    ("checkpoint unpacks too large", lambda c: c.resume_damaged(_huge_member), 2, "would unpack to 2,147,"),
    ("checkpoint weight shape", lambda c: c.resume_damaged(_wrong_weight_shape), 2, "is damaged"),
    # ------------------------------------------------------------------ train: data
    ("data missing folder", lambda c: train_args(c.tmp / "none", c.tmp / "r"), 2, "No folder of images"),
    ("data unknown name", lambda c: ["train", "--data", "cifar99", "--out", str(c.tmp / "r")], 2,
     "Unknown data set"),
    ("data empty folder", lambda c: train_args(_empty_folder(c), c.tmp / "r"), 2, "No images found"),
    ("data huge image", lambda c: _folder_with(c, lambda f: png_header_only(f / "big.png", 20000, 20000)), 2,
     "more than the limit of 16,777,216 pixels"),
    ("data large image", lambda c: _folder_with(c, lambda f: png_header_only(f / "big.png", 5000, 5000)), 2,
     "5000x5000 (25,000,000 pixels), more than the limit of 16,777,216 pixels"),
    ("data corrupt image", lambda c: _folder_with(c, lambda f: (f / "bad.png").write_bytes(b"\x89PNG junk")), 2,
     "Cannot read image"),
    ("data mixed sizes", lambda c: _folder_with(c, lambda f: make_images(f / "sub", n=1, size=12)), 2,
     "but the first image is 8x8"),
    # ------------------------------------------------------------------ generate
    ("generate missing model", lambda c: ["generate", str(c.tmp / "none.model")], 2, "no such file"),
    ("generate a folder", lambda c: ["generate", str(c.tmp)], 2, "is a folder"),
    ("generate not a model", lambda c: ["generate", str(_file(c, "x.model"))], 2, "not a model saved by upsampling"),
    ("generate truncated model", lambda c: ["generate", str(_truncated_model(c))], 2, "damaged"),
    ("generate not a generator", lambda c: ["generate", _save_dense_model(c), "--out", str(c.tmp / "g.png")], 2,
     "is not a generator"),
    ("generate n 0", lambda c: ["generate", c.generator(), "--n", "0", "--out", str(c.tmp / "g.png")], 2,
     "--n must be at least 1"),
    ("generate n negative", lambda c: ["generate", c.generator(), "--n", "-4", "--out", str(c.tmp / "g.png")], 2,
     "--n must be at least 1"),
    ("generate scale 0", lambda c: ["generate", c.generator(), "--scale", "0", "--out", str(c.tmp / "g.png")], 2,
     "--scale must be at least 1"),
    ("generate n too many", lambda c: ["generate", c.generator(), "--n", str(10**9), "--out", str(c.tmp / "g.png")],
     2, "--n 1000000000 images of 8x8x1 at --scale 2 would need more than 268,435,456 values"),
    ("generate scale too large", lambda c: ["generate", c.generator(), "--scale", str(10**6),
                                            "--out", str(c.tmp / "g.png")], 2, "would need more than"),
    ("generate seed negative", lambda c: ["generate", c.generator(), "--seed", "-1", "--out", str(c.tmp / "g.png")],
     2, "--seed must be at least 0"),
    ("generate out a folder", lambda c: ["generate", c.generator(), "--out", str(c.tmp)], 2, "is a folder"),
    ("generate out under a file", lambda c: ["generate", c.generator(), "--out", str(_file(c) / "g.png")], 2,
     "is a file, not a folder"),
    ("generate out a device", lambda c: ["generate", c.generator(), "--out", os.devnull], 2,
     "is not a regular file"),
    ("generate npy a folder", lambda c: ["generate", c.generator(), "--out", str(c.tmp / "g.png"),
                                         "--npy", str(c.tmp)], 2, "--npy"),
    # ------------------------------------------------------------------ evaluate
    ("evaluate missing model", lambda c: ["evaluate", str(c.tmp / "none.model"), "--data", "digits"], 2,
     "no such file"),
    ("evaluate n 1", lambda c: ["evaluate", c.generator(), "--data", "digits", "--n", "1"], 2,
     "must be an integer >= 2"),
    ("evaluate n too many", lambda c: ["evaluate", c.generator(), "--data", "digits", "--n", str(10**8)], 2,
     "would need more than"),
    ("evaluate folder data", lambda c: ["evaluate", c.generator(), "--data", str(c.images)], 2,
     "--data must be one of"),
    ("evaluate wrong data", lambda c: ["evaluate", _save_generator(c, (12, 12, 1)), "--data", "digits"], 2,
     "makes images of shape (12, 12, 1), but digits images are (8, 8, 1)"),
    # ------------------------------------------------------------------ demo and the parser
    ("demo out a file", lambda c: ["demo", "--out", str(_file(c))], 2, "is a file"),
    ("no command", lambda c: [], 2, "the following arguments are required"),
    ("unknown command", lambda c: ["fly"], 2, "invalid choice"),
]


def _truncated_model(ctx):
    path = ctx.tmp / "cut.model"
    data = (ctx.base / "finished" / "generator.keras").read_bytes()
    path.write_bytes(data[: len(data) - 200])
    return path


@pytest.mark.parametrize("make_argv, status, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_error(base, tmp_path, capsys, make_argv, status, fragment):
    ctx = Ctx(base, tmp_path)
    ctx.cleanup = None
    try:
        argv = make_argv(ctx)
        capsys.readouterr()
        before = snapshot(tmp_path)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exit, with our one-line message
            code = exc.code
        err = capsys.readouterr().err
        assert code == status, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert fragment in lines[0], lines[0]
        assert snapshot(tmp_path) == before  # nothing written, replaced or removed
    finally:
        if ctx.cleanup:
            ctx.cleanup()


def test_a_failure_shows_no_traceback_and_debug_shows_it(tmp_path):
    """In a real process: one line and status 2; with --debug (before or after the command) the traceback too."""
    for args, traceback in ((["generate", tmp_path / "none.model"], False),
                            (["generate", tmp_path / "none.model", "--debug"], True),
                            (["--debug", "train", "--epochs", "0"], True)):
        proc = cli(args)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2
        assert err.strip().splitlines()[-1].startswith("error: ")
        assert ("Traceback (most recent call last)" in err) == traceback, err
        if not traceback:
            assert len(err.strip().splitlines()) == 1


def test_every_subcommand_accepts_debug():
    """--debug is added to every subcommand the parser has, including ones added later."""
    from upsampling.cli import _add_debug_flag, build_parser
    parser = build_parser()
    _add_debug_flag(parser)
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert sub.choices and all("--debug" in p._option_string_actions for p in sub.choices.values())


def test_divergence_is_one_error_line_with_status_3(base, tmp_path, capsys):
    capsys.readouterr()
    assert main(train_args(base / "images", tmp_path / "run", 2, "--learning-rate", "3e38")) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: training diverged at epoch 1, step 1"), err
    assert "No checkpoint was written" in err[0] and not (tmp_path / "run" / "checkpoint.npz").exists()
