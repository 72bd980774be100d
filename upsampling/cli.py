"""Command line: `upsampling demo | train | generate | evaluate`."""
from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from upsampling.demo import run_demo
    run_demo(args.out, images=not args.no_images)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="upsampling", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every example of the UpSampling2D / Conv2DTranspose tutorial")
    demo.add_argument("--out", default="runs/demo", help="folder for the PNGs (default: runs/demo)")
    demo.add_argument("--no-images", action="store_true", help="print only, write no PNGs")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
