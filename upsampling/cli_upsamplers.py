"""Sub-commands about the upsamplers themselves: `explain`, `artifacts` and `compare`.

Kept apart from cli.py; cli.py registers them with :func:`add_parsers`.
"""
from __future__ import annotations

import sys


def _explain(args) -> int:
    from upsampling.explain import ExplainError, run_explain
    try:
        return run_explain(args)
    except ExplainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _artifacts(args) -> int:
    from upsampling.gan.artifacts import run_artifacts
    try:
        run_artifacts(args.out, upsamplers=args.upsamplers, seeds=range(args.seeds), channels=args.channels,
                      size=args.size, generators=args.generators, images=not args.no_images)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _compare(args) -> int:
    from upsampling.gan.compare import CompareConfig, run_compare
    cfg = CompareConfig(data=args.data, upsamplers=tuple(args.upsamplers), seeds=tuple(args.seeds),
                        epochs=args.epochs, batch_size=args.batch_size, filters=args.filters,
                        select_best=args.select_best, eval_n=args.eval_n, minutes=args.minutes,
                        architecture=args.architecture, ema=args.ema)
    try:
        run_compare(args.out, cfg, verbose=args.verbose)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: run the same command again to continue.", file=sys.stderr)
        return 130
    return 0


def add_parsers(sub) -> None:
    from upsampling.explain import add_arguments as explain_arguments
    from upsampling.gan.artifacts import LAYER_UPSAMPLERS
    from upsampling.gan.compare import DEFAULT_UPSAMPLERS
    from upsampling.gan.dcgan import ARCHITECTURES, UPSAMPLERS

    ex = sub.add_parser("explain", help="what an upsampling layer does, step by step (shapes, zero insertion, "
                                        "overlap counts, PyTorch equivalent, a PNG)")
    explain_arguments(ex)
    ex.set_defaults(func=_explain)

    art = sub.add_parser("artifacts", help="checkerboard metrics of every upsampler at random init "
                                           "(and of trained generators)")
    art.add_argument("--upsamplers", nargs="+", default=list(LAYER_UPSAMPLERS), choices=UPSAMPLERS)
    art.add_argument("--seeds", type=int, default=20, help="random initialisations per upsampler (default 20)")
    art.add_argument("--channels", type=int, default=8)
    art.add_argument("--size", type=int, default=16, help="probe height and width (default 16)")
    art.add_argument("--generators", nargs="*", default=[], help="saved generators (RUN/generator.keras) to measure")
    art.add_argument("--out", default="runs/artifacts")
    art.add_argument("--no-images", action="store_true", help="write the tables only")
    art.set_defaults(func=_artifacts)

    cmp_ = sub.add_parser("compare", help="train the DCGAN with each generator upsampler (same data, seeds, "
                                          "budget) and compare quality, checkerboard metrics and speed")
    cmp_.add_argument("--upsamplers", nargs="+", default=list(DEFAULT_UPSAMPLERS), choices=UPSAMPLERS)
    cmp_.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    cmp_.add_argument("--epochs", type=int, default=3, help="training budget of every run, in epochs (default 3)")
    cmp_.add_argument("--minutes", type=float, default=None,
                      help="also stop every run after this much training time (the same wall-clock budget "
                           "for each upsampler; resumes count time already spent)")
    cmp_.add_argument("--architecture", default="dcgan", choices=ARCHITECTURES,
                      help="generator and discriminator around the upsampler (see `upsampling train --help`)")
    cmp_.add_argument("--ema", type=float, default=0.99, metavar="DECAY",
                      help="weight average of each generator (see `upsampling train --help`); 0: none")
    cmp_.add_argument("--data", default="mnist5k")
    cmp_.add_argument("--batch-size", type=int, default=64)
    cmp_.add_argument("--filters", type=int, default=64)
    cmp_.add_argument("--eval-n", type=int, default=1000, help="samples scored per generator (default 1000)")
    cmp_.add_argument("--no-select-best", dest="select_best", action="store_false",
                      help="keep each run's last epoch instead of its best-scoring one")
    cmp_.add_argument("--verbose", type=int, default=1)
    cmp_.add_argument("--out", default="runs/compare",
                      help="comparison folder; running again with the same --out resumes (default runs/compare)")
    cmp_.set_defaults(func=_compare)
