"""A Keras-style progress bar: `12/63 ━━━━━━━━━━━━━━━━━━━━ 1s 21ms/step - loss: 0.6931`, and the
estimate of how long a whole run (many bars) still needs."""
from __future__ import annotations

import sys
import time


class Progbar:
    """Progress over `target` steps; `update(step, values)` redraws the line on a terminal, or prints
    only the final line when the stream is not a terminal (logs stay readable). `verbose=2` prints
    only the final line, without the bar, as Keras's `verbose=2`."""

    def __init__(self, target: int | None, width: int = 20, stream=None, verbose: int = 1, suffix=None):
        """`suffix()`, if given, returns text appended to every line (e.g. the whole run's ETA)."""
        self.target = target
        self.suffix = suffix
        self.width = width
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.start = time.perf_counter()
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_len = 0

    def _line(self, step: int, values: dict) -> str:
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(step, 1)
        if self.target:
            filled = int(self.width * min(step, self.target) / self.target)
            bar = "\u2501" * filled + (" " if filled < self.width else "") + "\u2500" * max(self.width - filled - 1, 0)
            head = f"{step}/{self.target} {bar}"
        else:
            head = f"{step}"
        if self.target and step < self.target:
            eta = f"{per_step * (self.target - step):.0f}s"
        else:
            eta = f"{elapsed:.0f}s"
        unit = f"{per_step * 1000:.0f}ms/step" if per_step < 1 else f"{per_step:.1f}s/step"
        stats = "".join(f" - {k}: {_fmt(v)}" for k, v in values.items())
        if self.suffix is not None:
            stats += self.suffix()
        if self.verbose == 2:  # Keras's one line per epoch, without the bar: `3/3 - 0s - 5ms/step - loss: ...`
            count = f"{step}/{self.target}" if self.target else f"{step}"
            return f"{count} - {eta} - {unit}{stats}"
        return f"{head} {eta} {unit}{stats}"

    def update(self, step: int, values: dict | None = None, finalize: bool = False) -> None:
        if self.verbose == 0:
            return
        values = values or {}
        done = finalize or (self.target is not None and step >= self.target)
        line = self._line(step, values)
        if self._interactive and self.verbose == 1:
            pad = " " * max(self._last_len - len(line), 0)
            self.stream.write("\r" + line + pad + ("\n" if done else ""))
            self._last_len = len(line)
            self.stream.flush()
        elif done:
            self.stream.write(line + "\n")
            self.stream.flush()


def _fmt(v) -> str:
    v = float(v)
    return f"{v:.4e}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4) else f"{v:.4f}"


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`: a duration for people, rounded to the second (minute above an hour)."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class RunEstimate:
    """How long the rest of a run takes: the mean time of a step (the first, which pays for warm-up,
    is left out once there are others) times the steps left, plus the mean time of the work done
    between epochs (samples, scoring, checkpoint) times the epoch ends left."""

    def __init__(self):
        self.step_times: list = []
        self.epoch_end_times: list = []

    def add_step(self, seconds: float) -> None:
        self.step_times.append(float(seconds))

    def add_epoch_end(self, seconds: float) -> None:
        self.epoch_end_times.append(float(seconds))

    @property
    def step_seconds(self) -> float | None:
        """The mean step time so far (None before the first step)."""
        times = self.step_times[1:] or self.step_times
        return sum(times) / len(times) if times else None

    def remaining(self, steps_left: int, epoch_ends_left: int) -> float | None:
        """Seconds still needed, or None before any step was timed."""
        per_step = self.step_seconds
        if per_step is None:
            return None
        per_end = sum(self.epoch_end_times) / len(self.epoch_end_times) if self.epoch_end_times else 0.0
        return steps_left * per_step + epoch_ends_left * per_end
