"""Training a DCGAN the tutorial author's way, with checkpoints that make runs resumable.

Each step trains the discriminator on one batch made of half real images (label 1) and half
generated ones (label 0), as the tutorial's author does, then the generator through the composite
model (label 1). All
randomness (shuffling, latent points, dropout) comes from `upsampling.random`'s generator, whose
state is checkpointed with the weights and optimizer states, so `resume` continues a run exactly
as if it had never stopped.

Files in the run folder:
    checkpoint.npz      weights, optimizer states, RNG state, history, position (atomic, each epoch
                        and on Ctrl-C)
    samples/epoch_NNN.png   a grid from the same fixed latent points every epoch
    losses.png          D and G losses per step
    generator.keras     the generator to use (`upsampling.models.load_model`): with a scorer, the
                        epoch whose samples scored best; otherwise the last
    generator_last.keras  the last epoch's generator (when a scorer picked another one)
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np

from upsampling import random as urandom
from upsampling.gan.dcgan import make_discriminator, make_gan, make_generator
from upsampling.progress import Progbar
from upsampling.atomic import atomic_write_bytes


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainConfig:
    data: str = "mnist5k"
    upsampler: str = "transpose"
    epochs: int = 15
    batch_size: int = 64
    latent_dim: int = 100
    filters: int = 64
    learning_rate: float = 0.0002
    seed: int = 0
    max_steps: int | None = None  # stop after this many steps in total (for tests and quick looks)
    sample_count: int = 64

    def fingerprint(self) -> dict:
        """The settings a resumed run must share with the original."""
        d = dataclasses.asdict(self)
        d.pop("epochs")
        d.pop("max_steps")
        return d


class GANTrainer:
    def __init__(self, config: TrainConfig, out_dir, *, images=None, verbose: int = 1, scorer=None):
        """`scorer(generator) -> float` (lower is better), if given, is called after every epoch and
        the best-scoring epoch's generator is the one saved as generator.keras. It must not draw
        from the shared random generator (the run would no longer equal a run without it)."""
        from upsampling.data import load_data
        self.config = config
        self.out = Path(out_dir)
        self.verbose = verbose
        urandom.set_random_seed(config.seed)
        self.images = images if images is not None else load_data(config.data, split="train", scale="tanh")[0]
        shape = self.images.shape[1:]
        self.generator = make_generator(config.latent_dim, shape, config.upsampler, config.filters)
        self.discriminator = make_discriminator(shape, config.filters, config.learning_rate)
        self.gan = make_gan(self.generator, self.discriminator, config.learning_rate)
        # Fixed latent points for the sample grids: their own generator, untouched by training.
        self.fixed_latent = np.random.default_rng(config.seed + 1).standard_normal(
            (config.sample_count, config.latent_dim)).astype(np.float32)
        self.epoch, self.batch, self.step = 0, 0, 0
        self.order = None
        self.history = {"d_loss": [], "d_acc": [], "g_loss": []}
        self.stop_requested = False  # set by Ctrl-C; honoured between steps so checkpoints are consistent
        self.scorer = scorer
        self.scores: list = []  # the scorer's value after each epoch
        self.best_epoch = None
        # This run's random stream, independent of anything else that draws from the shared generator.
        self.rng_state = urandom.get_state()
        self._training = False

    @property
    def steps_per_epoch(self) -> int:
        return max(len(self.images) // self.config.batch_size, 1)

    # ---------------------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.npz"

    def save_checkpoint(self) -> Path:
        if self._training:
            self.rng_state = urandom.get_state()
        arrays = {}
        for prefix, model in (("g", self.generator), ("d", self.discriminator)):
            for i, w in enumerate(model.get_weights()):
                arrays[f"{prefix}_weight_{i:04d}"] = w
        for prefix, model in (("d", self.discriminator), ("gan", self.gan)):
            for i, s in enumerate(model.optimizer.get_state()):
                arrays[f"{prefix}_opt_{i:04d}"] = s
        arrays["order"] = self.order if self.order is not None else np.zeros(0, np.int64)
        meta = {"config": self.config.fingerprint(), "epoch": self.epoch, "batch": self.batch, "step": self.step,
                "history": self.history, "rng": self.rng_state, "scores": self.scores,
                "best_epoch": self.best_epoch}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return atomic_write_bytes(self.checkpoint_path, buf.getvalue())

    def load_checkpoint(self, path=None) -> None:
        path = Path(path or self.checkpoint_path)
        if not path.exists():
            raise FileNotFoundError(f"resume: no checkpoint at {path}; start the run without --resume first.")
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta["config"] != self.config.fingerprint():
                diff = {k: (meta["config"].get(k), v) for k, v in self.config.fingerprint().items()
                        if meta["config"].get(k) != v}
                raise ValueError(f"resume: the checkpoint at {path} was made with other settings "
                                 f"(saved, now): {diff}. Use the same settings or a new --out folder.")
            for prefix, model in (("g", self.generator), ("d", self.discriminator)):
                model.set_weights([z[k] for k in sorted(z.files) if k.startswith(f"{prefix}_weight_")])
            for prefix, model in (("d", self.discriminator), ("gan", self.gan)):
                model.optimizer.build(model._compiled_variables)
                model.optimizer.set_state([z[k] for k in sorted(z.files) if k.startswith(f"{prefix}_opt_")])
            self.order = z["order"] if z["order"].size else None
        self.epoch, self.batch, self.step = meta["epoch"], meta["batch"], meta["step"]
        self.history = meta["history"]
        self.rng_state = meta["rng"]
        self.scores, self.best_epoch = meta.get("scores", []), meta.get("best_epoch")

    # ---------------------------------------------------------------------------- training
    def train_step(self, real: np.ndarray) -> dict:
        rng = urandom.generator()
        half = len(real)
        latent = rng.standard_normal((half, self.config.latent_dim)).astype(np.float32)
        # Fakes come from the generator in training mode (batch statistics in its BatchNormalization),
        # the same mode the generator is trained in through the composite model.
        fake = self.generator.forward(latent, training=True)[0]
        x = np.concatenate([real, fake])  # (2*half, H, W, C): real first, then fake
        y = np.concatenate([np.ones((half, 1), np.float32), np.zeros((half, 1), np.float32)])
        d_loss, d_acc = self.discriminator.train_on_batch(x, y)
        latent = rng.standard_normal((2 * half, self.config.latent_dim)).astype(np.float32)
        g_loss = self.gan.train_on_batch(latent, np.ones((2 * half, 1), np.float32))
        return {"d_loss": d_loss, "d_acc": d_acc, "g_loss": g_loss}

    def write_samples(self, name: str) -> Path:
        from upsampling.plots import image_grid
        images = self.generator.predict(self.fixed_latent, verbose=0)
        return image_grid(images, self.out / "samples" / f"{name}.png", value_range=(-1, 1), scale=2)

    def write_loss_plot(self) -> Path:
        from upsampling.plots import loss_curves
        return loss_curves({"discriminator": self.history["d_loss"], "generator": self.history["g_loss"]},
                           self.out / "losses.png",
                           title=f"DCGAN ({self.config.upsampler}) on {self.config.data}")

    def _log(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    def _on_sigint(self, signum, frame):
        self.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

    def train(self) -> dict:
        """Run (or continue) training until `epochs` (or `max_steps`); returns the history.

        Ctrl-C finishes the current step, writes a checkpoint and raises KeyboardInterrupt.
        """
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if in_main else None
        urandom.set_state(self.rng_state)
        self._training = True
        try:
            return self._train()
        finally:
            self._training = False
            self.rng_state = urandom.get_state()
            if in_main:
                signal.signal(signal.SIGINT, previous)

    def _train(self) -> dict:
        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        half = cfg.batch_size // 2
        steps = self.steps_per_epoch
        started = time.perf_counter()
        self._log(f"DCGAN on {cfg.data}: {len(self.images):,} images of {self.images.shape[1:]}, generator "
                  f"upsampling with '{cfg.upsampler}' ({self.generator.count_params():,} parameters), "
                  f"discriminator {self.discriminator.count_params():,} parameters; {steps} steps an epoch "
                  f"of batch {cfg.batch_size}, seed {cfg.seed}. Writing to {self.out}")
        try:
            while self.epoch < cfg.epochs:
                if self.order is None or self.batch == 0:
                    self.order = urandom.generator().permutation(len(self.images))
                self._log(f"Epoch {self.epoch + 1}/{cfg.epochs}")
                bar = Progbar(steps, verbose=self.verbose)
                while self.batch < steps:
                    if cfg.max_steps is not None and self.step >= cfg.max_steps:
                        self.save_checkpoint()
                        return self.history
                    index = self.order[self.batch * half:(self.batch + 1) * half]
                    if len(index) < half:  # a short tail: wrap around the permutation
                        index = np.concatenate([index, self.order[:half - len(index)]])
                    logs = self.train_step(self.images[index])
                    bad = [k for k, v in logs.items() if not math.isfinite(v)]
                    if bad:
                        raise TrainingDiverged(
                            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: "
                            f"{', '.join(f'{k}={logs[k]}' for k in bad)}. The last good checkpoint "
                            f"({self.checkpoint_path}) was kept; try a lower --learning-rate or another --seed.")
                    for k, v in logs.items():
                        self.history[k].append(float(v))
                    self.batch += 1
                    self.step += 1
                    bar.update(self.batch, logs)
                    if self.stop_requested:
                        raise KeyboardInterrupt
                self.epoch += 1
                self.batch = 0
                samples = self.write_samples(f"epoch_{self.epoch:03d}")
                self.write_loss_plot()
                score = self._score_epoch()
                self.save_checkpoint()
                self._log(f"  samples: {samples}  checkpoint: {self.checkpoint_path}{score}")
        except KeyboardInterrupt:
            if self.stop_requested:  # between two steps: the state is consistent, keep it
                self.save_checkpoint()
                self._log(f"\nInterrupted: checkpoint written to {self.checkpoint_path}; continue with --resume.")
            else:  # in the middle of a step: the last checkpoint is the last consistent state
                self._log(f"\nInterrupted mid-step: kept the last checkpoint {self.checkpoint_path}.")
            raise
        path = self.out / "generator.keras"
        if self.scorer is not None and self.best_epoch is not None:
            self.generator.save(self.out / "generator_last.keras")
            atomic_write_bytes(path, (self.out / "generator_best.keras").read_bytes())
            chosen = f" (epoch {self.best_epoch}, the best score {min(self.scores):.2f})"
        else:
            self.generator.save(path)
            chosen = ""
        self._log(f"Finished {self.step} steps in {time.perf_counter() - started:.0f}s. Generator: {path}{chosen}")
        return self.history

    def _score_epoch(self) -> str:
        """Score this epoch's generator; keep it as generator_best.keras when it is the best so far."""
        if self.scorer is None:
            return ""
        score = float(self.scorer(self.generator))
        self.scores.append(score)
        if self.best_epoch is None or score < min(self.scores[:-1], default=np.inf):
            self.best_epoch = self.epoch
            self.generator.save(self.out / "generator_best.keras")
        return f"  score: {score:.2f} (best: epoch {self.best_epoch})"
