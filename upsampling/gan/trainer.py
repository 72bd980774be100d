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
    run.lock            present while a run writes here; names its process (see `rundir`)

A folder that holds a checkpoint is only trained into again to resume it (`load_checkpoint`) or
with `overwrite=True`. SIGINT (Ctrl-C) and SIGTERM finish the current step, write a checkpoint and
raise `Interrupted`; a second signal stops at once, keeping the last checkpoint.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import signal
import threading
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from upsampling import random as urandom
from upsampling.gan.dcgan import make_discriminator, make_gan, make_generator
from upsampling.progress import Progbar, RunEstimate, format_duration
from upsampling.atomic import atomic_write_bytes, remove_stale_temporaries
from upsampling.gan import rundir
from upsampling.gan.averaging import WeightAverage, averaged_generator


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal (SIGINT or SIGTERM); `signum` says which. The conventional
    exit status of a process stopped this way is ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, or not a checkpoint of this trainer."""


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"--{name.replace('_', '-')} must be an integer >= {minimum}. Received: {value!r}")


def data_fingerprint(images: np.ndarray) -> dict:
    """What a resumed run checks to be sure it trains on the same images: count, shape, SHA-256."""
    data = np.ascontiguousarray(images)
    return {"shape": list(data.shape), "dtype": data.dtype.name,
            "sha256": hashlib.sha256(data.view(np.uint8).reshape(-1)).hexdigest()}


# Adam's learning rate when none is given. The tutorial's recipe uses 2e-4 (as Radford et al.); the
# 'dcgan' architecture learns faster in the short default run with 6e-4 (README; seed 0, 1,240 steps,
# the averaged generator's independent / selection FD: 2e-4 24.9 / 20.0, 4e-4 23.7 / 15.5, 6e-4 21.1 / 14.1).
DEFAULT_LEARNING_RATES = {"dcgan": 0.0006, "tutorial": 0.0002}

# What checkpoints and comparisons recorded before these settings existed were made with.
SETTINGS_BEFORE_CHOICES = {"architecture": "tutorial", "ema": 0.0}


def default_learning_rate(architecture: str) -> float:
    return DEFAULT_LEARNING_RATES.get(architecture, DEFAULT_LEARNING_RATES["tutorial"])


@dataclasses.dataclass
class TrainConfig:
    data: str = "mnist5k"
    upsampler: str = "transpose"
    architecture: str = "dcgan"  # dcgan.ARCHITECTURES: 'dcgan' (Radford et al.) or 'tutorial'
    ema: float = 0.99  # decay of the generator's weight average that is sampled and saved; 0: none
    epochs: int = 20
    batch_size: int = 64
    latent_dim: int = 100
    filters: int = 64
    learning_rate: float | None = None  # Adam's, for G and D; None: DEFAULT_LEARNING_RATES[architecture]
    seed: int = 0
    max_steps: int | None = None  # stop after this many steps in total (for tests and quick looks)
    sample_count: int = 64
    time_budget: float | None = None  # minutes this invocation may train; then it stops as if finished

    def __post_init__(self):
        if self.learning_rate is None:
            self.learning_rate = default_learning_rate(self.architecture)

    def fingerprint(self) -> dict:
        """The settings a resumed run must share with the original."""
        d = dataclasses.asdict(self)
        for key in ("epochs", "max_steps", "time_budget"):
            d.pop(key)
        return d

    def validate(self, n_images: int | None = None) -> None:
        """ValueError naming the first setting out of range; with `n_images`, the batch size must fit."""
        from upsampling.gan.dcgan import ARCHITECTURES, UPSAMPLERS
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 2)  # half real, half generated: at least one of each
        _check_int("latent_dim", self.latent_dim, 1)
        _check_int("filters", self.filters, 1)
        _check_int("seed", self.seed, 0)
        _check_int("sample_count", self.sample_count, 1)
        if self.max_steps is not None:
            _check_int("max_steps", self.max_steps, 1)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not lr > 0 \
                or not float(lr) <= float(np.finfo(np.float32).max):
            raise ValueError(f"--learning-rate must be a positive number, finite in float32. Received: {lr!r}")
        ema = self.ema
        if isinstance(ema, bool) or not isinstance(ema, (int, float, np.floating)) or not 0 <= ema < 1:
            raise ValueError(f"--ema must be a decay in [0, 1) (0: no average). Received: {ema!r}")
        tb = self.time_budget
        if tb is not None and (isinstance(tb, bool) or not isinstance(tb, (int, float, np.floating))
                               or not math.isfinite(tb) or tb <= 0):
            raise ValueError(f"--time-budget must be a positive number of minutes. Received: {tb!r}")
        if self.upsampler not in UPSAMPLERS:
            raise ValueError(f"--upsampler must be one of {', '.join(UPSAMPLERS)}. Received: {self.upsampler!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"--architecture must be one of {', '.join(ARCHITECTURES)}. "
                             f"Received: {self.architecture!r}")
        if n_images is not None and self.batch_size > n_images:
            raise ValueError(f"--batch-size {self.batch_size} is larger than the data set ({n_images} images "
                             f"in {self.data}). Use a batch size of at most {n_images}.")


def _check_arrays(what: str, arrays: list, expected: list) -> None:
    if len(arrays) != len(expected):
        raise ValueError(f"{what}: {len(arrays)} arrays, expected {len(expected)}")
    for i, (a, e) in enumerate(zip(arrays, expected)):
        if a.shape != e.shape or a.dtype != e.dtype:
            raise ValueError(f"{what}: array {i} is {a.dtype}{a.shape}, expected {e.dtype}{e.shape}")


class GANTrainer:
    def __init__(self, config: TrainConfig, out_dir, *, images=None, verbose: int = 1, scorer=None,
                 overwrite: bool = False):
        """`scorer(generator) -> float` (lower is better), if given, is called after every epoch and
        the best-scoring epoch's generator is the one saved as generator.keras. It must not draw
        from the shared random generator (the run would no longer equal a run without it).

        `overwrite=True` lets `train()` replace a run already in `out_dir`; otherwise a folder
        holding a checkpoint is refused unless `load_checkpoint()` resumed it."""
        from upsampling.data import load_data
        config.validate()
        self.config = config
        self.out = Path(out_dir)
        self.overwrite = bool(overwrite)
        rundir.check_run_folder(self.out, resume=True)  # a file or unwritable folder fails here, before any work
        self.verbose = verbose
        urandom.set_random_seed(config.seed)
        self.images = images if images is not None else load_data(config.data, split="train", scale="tanh")[0]
        config.validate(len(self.images))
        self.data_fingerprint = data_fingerprint(self.images)
        shape = self.images.shape[1:]
        self.generator = make_generator(config.latent_dim, shape, config.upsampler, config.filters,
                                        architecture=config.architecture)
        self.discriminator = make_discriminator(shape, config.filters, config.learning_rate,
                                                architecture=config.architecture)
        self.gan = make_gan(self.generator, self.discriminator, config.learning_rate)
        # Fixed latent points for the sample grids: their own generator, untouched by training.
        self.fixed_latent = np.random.default_rng(config.seed + 1).standard_normal(
            (config.sample_count, config.latent_dim)).astype(np.float32)
        # The average of the generator's weights (None without --ema), and the fixed latent batches
        # that give the averaged weights their BatchNormalization statistics.
        self.average = WeightAverage(config.ema, self.generator.get_weights()) if config.ema else None
        self._average_model, self._average_step = None, None  # the averaged copy, and the step it is of
        self._statistics_latent = list(np.random.default_rng(config.seed + 3).standard_normal(
            (4, 256, config.latent_dim)).astype(np.float32)) if config.ema else []
        self.epoch, self.batch, self.step = 0, 0, 0
        self.order = None
        self.history = {"d_loss": [], "d_acc": [], "g_loss": []}
        self.stop_requested = False  # set by Ctrl-C; honoured between steps so checkpoints are consistent
        self.scorer = scorer
        self.scores: list = []  # the scorer's value after each epoch
        self.best_epoch = None
        self.elapsed = 0.0  # seconds spent training this run, over all its invocations (checkpointed)
        self.stopped_by = None  # after train(): None (finished), "max_steps" or "time_budget"
        self._clock = RunEstimate()
        self._started, self._elapsed_before = time.perf_counter(), 0.0
        # This run's random stream, independent of anything else that draws from the shared generator.
        self.rng_state = urandom.get_state()
        self._training = False
        self._signal = None  # the first SIGINT/SIGTERM received while training
        self._owns_checkpoint = False  # the checkpoint in `out` is this run's (resumed or written by it)

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
            self.elapsed = self._elapsed_before + time.perf_counter() - self._started
        arrays = {}
        for prefix, model in (("g", self.generator), ("d", self.discriminator)):
            for i, w in enumerate(model.get_weights()):
                arrays[f"{prefix}_weight_{i:04d}"] = w
        for prefix, model in (("d", self.discriminator), ("gan", self.gan)):
            for i, s in enumerate(model.optimizer.get_state()):
                arrays[f"{prefix}_opt_{i:04d}"] = s
        if self.average is not None:
            for i, w in enumerate(self.average.weights):
                arrays[f"ema_weight_{i:04d}"] = w
        arrays["order"] = self.order if self.order is not None else np.zeros(0, np.int64)
        meta = {"config": self.config.fingerprint(), "data": self.data_fingerprint,
                "epoch": self.epoch, "batch": self.batch, "step": self.step,
                "history": self.history, "rng": self.rng_state, "scores": self.scores,
                "best_epoch": self.best_epoch, "elapsed": self.elapsed}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path = atomic_write_bytes(self.checkpoint_path, buf.getvalue())
        self._owns_checkpoint = True
        return path

    def load_checkpoint(self, path=None) -> None:
        """Resume from a checkpoint. Everything is read and checked before any state changes:
        `FileNotFoundError` if there is none, `CheckpointError` (a ValueError) if it is damaged,
        `ValueError` if it was made with other settings or other images."""
        path = Path(path or self.checkpoint_path)
        if not path.is_file():
            raise FileNotFoundError(f"resume: no checkpoint at {path}; start the run without --resume first.")
        try:
            meta, arrays = self._read_checkpoint(path)
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, IndexError, TypeError, ValueError,
                AttributeError, RecursionError, UnicodeDecodeError, MemoryError) as exc:
            raise CheckpointError(
                f"resume: the checkpoint {path} is damaged or not a checkpoint of `upsampling train` "
                f"({type(exc).__name__}: {str(exc)[:200]}). Restore a copy, or start again with --overwrite."
            ) from exc
        saved = meta["config"]
        if saved != self.config.fingerprint():
            diff = {k: (saved.get(k), v) for k, v in self.config.fingerprint().items() if saved.get(k) != v}
            hint = (" It was made before the 'dcgan' default: resume it with --architecture tutorial --ema 0 "
                    "(and --epochs 15, its length then)." if meta.get("older") else "")
            raise ValueError(f"resume: the checkpoint at {path} was made with other settings "
                             f"(saved, now): {diff}. Use the same settings or a new --out folder.{hint}")
        if "data" in meta and meta["data"] != self.data_fingerprint:
            then, now = meta["data"], self.data_fingerprint
            raise ValueError(f"resume: the images of --data {self.config.data} are not the ones the checkpoint "
                             f"{path} was trained on (then {then['shape']} sha256 {then['sha256'][:12]}, now "
                             f"{now['shape']} sha256 {now['sha256'][:12]}). Restore the data or start a new --out.")
        for model, weights in ((self.generator, arrays["g"]), (self.discriminator, arrays["d"])):
            model.set_weights(weights)
        if self.average is not None:
            self.average.weights = [np.array(w, copy=True) for w in arrays["ema"]]
            self._average_step = None
        for model, state in ((self.discriminator, arrays["d_opt"]), (self.gan, arrays["gan_opt"])):
            model.optimizer.set_state(state)
        self.order = arrays["order"]
        self.epoch, self.batch, self.step = meta["epoch"], meta["batch"], meta["step"]
        self.history = meta["history"]
        self.rng_state = meta["rng"]
        self.scores, self.best_epoch = meta.get("scores", []), meta.get("best_epoch")
        self.elapsed = float(meta.get("elapsed", 0.0))
        self._owns_checkpoint = True

    def _read_checkpoint(self, path: Path):
        """(meta, arrays) of a checkpoint, every part checked against this trainer; raises on damage."""
        with zipfile.ZipFile(path) as zf:  # bounded: weights, two optimizers' slots, the order, the history
            size = sum(info.file_size for info in zf.infolist())
        limit = 16 * (self.generator.count_params() + self.discriminator.count_params()) * 4 \
            + 8 * len(self.images) + 2 ** 28
        if size > limit:
            raise ValueError(f"it would unpack to {size:,} bytes, more than the {limit:,} a checkpoint of this "
                             "model can need")
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            contents = {k: z[k] for k in files}
        meta = json.loads(contents.pop("meta").tobytes().decode())
        for key, kind in (("config", dict), ("epoch", int), ("batch", int), ("step", int), ("history", dict)):
            if not isinstance(meta.get(key), kind):
                raise ValueError(f"meta[{key!r}] is missing or not {kind.__name__}")
        meta["older"] = "architecture" not in meta["config"]
        meta["config"] = {**SETTINGS_BEFORE_CHOICES, **meta["config"]}
        if meta["config"] != self.config.fingerprint():
            return meta, None  # the caller reports the settings that differ
        arrays = {}
        for group, model in (("g", self.generator), ("d", self.discriminator)):
            arrays[group] = [contents[k] for k in sorted(contents) if k.startswith(f"{group}_weight_")]
            _check_arrays(f"{group} weights", arrays[group], model.get_weights())
        if self.average is not None:
            arrays["ema"] = [contents[k] for k in sorted(contents) if k.startswith("ema_weight_")]
            _check_arrays("averaged generator weights", arrays["ema"], self.average.weights)
        for group, model in (("d", self.discriminator), ("gan", self.gan)):
            model.optimizer.build(model._compiled_variables)  # empty slots, to compare shapes with
            arrays[f"{group}_opt"] = [contents[k] for k in sorted(contents) if k.startswith(f"{group}_opt_")]
            _check_arrays(f"{group} optimizer state", arrays[f"{group}_opt"], model.optimizer.get_state())
        steps, n = self.steps_per_epoch, len(self.images)
        epoch, batch, step = meta["epoch"], meta["batch"], meta["step"]
        # batch == steps: stopped by a signal after an epoch's last step, before its bookkeeping
        if not (0 <= batch <= steps and epoch >= 0 and step == epoch * steps + batch):
            raise ValueError(f"inconsistent position: epoch {epoch}, batch {batch}, step {step}")
        history = meta["history"]
        if sorted(history) != sorted(self.history) or any(
                not isinstance(v, list) or len(v) != step or not all(isinstance(x, (int, float)) for x in v)
                for v in history.values()):
            raise ValueError("the loss history does not match the position")
        order = contents["order"]
        if order.size == 0:
            arrays["order"] = None
            if batch:
                raise ValueError("no data order in the middle of an epoch")
        elif not (order.shape == (n,) and order.dtype.kind in "iu"
                  and np.array_equal(np.sort(order), np.arange(n))):
            raise ValueError(f"the data order is not a permutation of the {n} images")
        else:
            arrays["order"] = order.astype(np.int64)
        np.random.PCG64().state = meta["rng"]  # raises if the random state is malformed
        scores = meta.get("scores", [])
        if not isinstance(scores, list) or not all(isinstance(x, (int, float)) for x in scores):
            raise ValueError("malformed scores")
        best = meta.get("best_epoch")
        if best is not None and (not isinstance(best, int) or not 1 <= best <= max(epoch, 1)):
            raise ValueError(f"malformed best epoch {best!r}")
        elapsed = meta.get("elapsed", 0.0)
        if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < math.inf:
            raise ValueError(f"malformed elapsed time {elapsed!r}")
        return meta, arrays

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

    def sampled_generator(self):
        """The generator a user gets: the weight average with its own BatchNormalization statistics
        (`averaging.averaged_generator`), or the trained generator itself without --ema."""
        if self.average is None:
            return self.generator
        if self._average_step != self.step:  # the end of a run reuses its last epoch's copy
            self._average_model = averaged_generator(self.generator, self.average.weights,
                                                     self._statistics_latent, into=self._average_model)
            self._average_step = self.step
        return self._average_model

    def write_samples(self, name: str, generator=None) -> Path:
        from upsampling.plots import image_grid
        generator = self.sampled_generator() if generator is None else generator
        images = generator.predict(self.fixed_latent, verbose=0)
        return image_grid(images, self.out / "samples" / f"{name}.png", value_range=(-1, 1), scale=2)

    def write_loss_plot(self) -> Path:
        from upsampling.plots import loss_curves
        return loss_curves({"discriminator": self.history["d_loss"], "generator": self.history["g_loss"]},
                           self.out / "losses.png",
                           title=f"DCGAN ({self.config.upsampler}) on {self.config.data}")

    def _log(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    def _on_signal(self, signum, frame):
        if self._signal is not None:  # a second signal: stop at once; the last checkpoint stays as it was
            raise Interrupted(signum)
        self._signal = signum
        self.stop_requested = True

    _on_sigint = _on_signal  # the name tests and callers have used for Ctrl-C

    def train(self) -> dict:
        """Run (or continue) training until `epochs` (or `max_steps`); returns the history.

        Holds the run folder's lock throughout (`rundir.RunLock`), removes temporary files that
        killed writes left there, and refuses a folder holding another run's checkpoint unless
        `overwrite` was given. SIGINT/SIGTERM finish the current step, write a checkpoint and
        raise `Interrupted` (a KeyboardInterrupt); a second signal raises it at once.
        """
        in_main = threading.current_thread() is threading.main_thread()
        with rundir.RunLock(self.out) as lock:
            if lock.took_over:
                self._log(f"Took over the lock of process {lock.took_over.get('pid')}, which is no longer running.")
            removed = remove_stale_temporaries(self.out)
            if removed:
                self._log(f"Removed {len(removed)} temporary file(s) left by an interrupted write.")
            if not self._owns_checkpoint and rundir.finished_run_files(self.out):
                if not self.overwrite:
                    rundir.check_run_folder(self.out)  # raises, naming what is there
                rundir.clear_run(self.out)
            previous = {s: signal.signal(s, self._on_signal) for s in _SIGNALS} if in_main else {}
            self._signal = None
            self.stop_requested = False
            urandom.set_state(self.rng_state)
            self._training = True
            try:
                return self._train()
            finally:
                self._training = False
                self.rng_state = urandom.get_state()
                for s, handler in previous.items():
                    signal.signal(s, handler)

    def _train(self) -> dict:
        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        half = cfg.batch_size // 2
        steps = self.steps_per_epoch
        started = self._started = time.perf_counter()
        self._elapsed_before = self.elapsed
        deadline = None if cfg.time_budget is None else started + 60.0 * cfg.time_budget
        self.stopped_by = None
        clock = self._clock = RunEstimate()
        self._log(f"DCGAN on {cfg.data}: {len(self.images):,} images of {self.images.shape[1:]}, generator "
                  f"upsampling with '{cfg.upsampler}' ({self.generator.count_params():,} parameters), "
                  f"discriminator {self.discriminator.count_params():,} parameters; {steps} steps an epoch "
                  f"of batch {cfg.batch_size}, seed {cfg.seed}. Writing to {self.out}")
        try:
            while self.epoch < cfg.epochs:
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    self.stopped_by = "max_steps"
                    self.save_checkpoint()  # before the next epoch's order is drawn: a resume draws it
                    return self.history
                if self.order is None or self.batch == 0:
                    self.order = urandom.generator().permutation(len(self.images))
                self._log(f"Epoch {self.epoch + 1}/{cfg.epochs}")
                bar = Progbar(steps, verbose=self.verbose, suffix=lambda: f" - run ETA {self._eta_text(deadline)}")
                while self.batch < steps:
                    if cfg.max_steps is not None and self.step >= cfg.max_steps:
                        self.stopped_by = "max_steps"
                        self.save_checkpoint()
                        return self.history
                    if self._out_of_time(deadline):
                        return self._stop_at_time_budget(bar)
                    index = self.order[self.batch * half:(self.batch + 1) * half]
                    if len(index) < half:  # a short tail: wrap around the permutation
                        index = np.concatenate([index, self.order[:half - len(index)]])
                    step_started = time.perf_counter()
                    logs = self.train_step(self.images[index])
                    if self.average is not None:
                        self.average.update([v.value for v in self.generator.weights])
                    clock.add_step(time.perf_counter() - step_started)
                    bad = [k for k, v in logs.items() if not math.isfinite(v)]
                    if bad:
                        kept = (f"The last good checkpoint ({self.checkpoint_path}) was kept"
                                if self._owns_checkpoint else "No checkpoint was written")
                        raise TrainingDiverged(
                            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: "
                            f"{', '.join(f'{k}={logs[k]}' for k in bad)}. {kept}; try a lower "
                            "--learning-rate or another --seed.")
                    for k, v in logs.items():
                        self.history[k].append(float(v))
                    self.batch += 1
                    self.step += 1
                    bar.update(self.batch, logs)
                    if self.stop_requested:
                        stop = Interrupted(self._signal or signal.SIGINT)
                        stop.between_steps = True
                        raise stop
                end_started = time.perf_counter()
                self.epoch += 1
                self.batch = 0
                sampled = self.sampled_generator()
                samples = self.write_samples(f"epoch_{self.epoch:03d}", sampled)
                self.write_loss_plot()
                score = self._score_epoch(sampled)
                self.save_checkpoint()
                clock.add_epoch_end(time.perf_counter() - end_started)
                self._log(f"  samples: {samples}  checkpoint: {self.checkpoint_path}{score}  "
                          f"[{format_duration(time.perf_counter() - started)} so far, run ETA "
                          f"{self._eta_text(deadline)}]")
        except KeyboardInterrupt as exc:
            if getattr(exc, "between_steps", False):  # the state is consistent: keep it
                self.save_checkpoint()
                self._log(f"\nInterrupted: checkpoint written to {self.checkpoint_path}; continue with --resume.")
            else:  # in the middle of a step: the last checkpoint is the last consistent state
                self._log(f"\nInterrupted mid-step: kept the last checkpoint {self.checkpoint_path}.")
            raise
        path, chosen = self._save_generators()
        self._log(f"Finished {self.step} steps in {time.perf_counter() - started:.0f}s. Generator: {path}{chosen}")
        return self.history

    # ---------------------------------------------------------------------------- time
    def _steps_target(self) -> int:
        """The step at which this invocation ends if no time budget stops it first."""
        total = self.config.epochs * self.steps_per_epoch
        return total if self.config.max_steps is None else min(total, max(self.config.max_steps, self.step))

    def _eta_text(self, deadline) -> str:
        """`3m05s` (the rest of the run), `1m10s (time budget)` when the budget ends it first, or `?`."""
        target = self._steps_target()
        ends_left = max(min(self.config.epochs, target // self.steps_per_epoch) - self.epoch, 0)
        left = self._clock.remaining(target - self.step, ends_left)
        if left is None:
            return "?"
        if deadline is not None and time.perf_counter() + left > deadline:
            return f"{format_duration(max(deadline - time.perf_counter(), 0.0))} (time budget)"
        return format_duration(left)

    def _out_of_time(self, deadline) -> bool:
        """True when the next step would end after the deadline (by the mean step time so far)."""
        if deadline is None:
            return False
        return time.perf_counter() + (self._clock.step_seconds or 0.0) > deadline

    def _stop_at_time_budget(self, bar) -> dict:
        """End this invocation at the time budget as a finished run would end: checkpoint, sample grid and
        generators written; `--resume` continues it."""
        self.stopped_by = "time_budget"
        if self.batch:
            bar.update(self.batch, finalize=True)
        samples = self.write_samples(f"epoch_{self.epoch:03d}_step_{self.step:06d}" if self.batch
                                     else f"epoch_{self.epoch:03d}")
        self.write_loss_plot()
        self.save_checkpoint()
        path, chosen = self._save_generators()
        self._log(f"Time budget of {self.config.time_budget:g} min reached after {self.step} steps "
                  f"(epoch {self.epoch + (1 if self.batch else 0)}/{self.config.epochs}"
                  f"{f', batch {self.batch}/{self.steps_per_epoch}' if self.batch else ''}). Samples: {samples}. "
                  f"Generator: {path}{chosen}")
        return self.history

    def _save_generators(self) -> tuple:
        """Write generator.keras (the best-scoring epoch's when a scorer chose one, else the current
        generator) and generator_last.keras; returns (path, a note on the choice)."""
        path = self.out / "generator.keras"
        if self.scorer is not None and self.best_epoch is not None:
            self.sampled_generator().save(self.out / "generator_last.keras")
            atomic_write_bytes(path, (self.out / "generator_best.keras").read_bytes())
            return path, f" (epoch {self.best_epoch}, the best score {min(self.scores):.2f})"
        self.sampled_generator().save(path)
        return path, ""

    def _score_epoch(self, generator) -> str:
        """Score this epoch's `generator`; keep it as generator_best.keras when it is the best so far."""
        if self.scorer is None:
            return ""
        score = float(self.scorer(generator))
        self.scores.append(score)
        if self.best_epoch is None or score < min(self.scores[:-1], default=np.inf):
            self.best_epoch = self.epoch
            generator.save(self.out / "generator_best.keras")
        return f"  score: {score:.2f} (best: epoch {self.best_epoch})"
