"""Randomness that a resumed run reproduces exactly.

With a fixed seed and ``deterministic=True``, a run stopped after an epoch
(or killed with ``kill -9`` in the middle of the next one) and resumed with
``--resume`` should end with exactly the weights and metrics of the run that
was never interrupted. Out of the box, mmengine 0.10.7 (with torch 2.x) does
not give that, for three reasons, each checked in its source:

1. **Checkpoints hold no random state.** ``Runner.save_checkpoint`` stores
   the weights, optimizer, schedulers, message hub and the *seed*, not the
   state of python's ``random``, numpy or torch; ``Runner.resume`` restores
   the seed (``set_randomness`` again) and so restarts every generator from
   the beginning, not from where the run was.
2. **Dataloader workers are seeded once, at start.** mmengine's
   ``worker_init_fn`` seeds ``random``, numpy and torch in each worker with
   ``seed + num_workers * rank + worker_id``. Non-persistent workers are new
   processes each epoch, so every epoch replays the same augmentation
   stream; persistent workers (the configs' choice) keep one running stream
   over all epochs, which a resumed run, whose workers start afresh, cannot
   recreate: its epoch 2 gets the augmentations of epoch 1.
3. **The main process's torch stream depends on the past.** Each
   ``iter(dataloader)`` draws a base seed from it (with persistent workers
   only the first one does, so a resumed run draws at epoch 2 where the
   uninterrupted run does not), and validation iterates its own dataloader
   in between epochs. Dropout and drop-path therefore draw different masks
   after a resume.

The remedy here keeps no state at all: every stream is *restarted* from a
seed derived from the run's seed and the position in training, so the
randomness of an epoch is a function of ``(seed, epoch)`` only, whatever
happened before, and an epoch replayed after a resume draws exactly what it
drew the first time. Saving and restoring the generator states instead
would need the state of every worker process (which lives in other
processes and is lost with them on ``kill -9``), a new checkpoint format,
and would still miss the persistent-worker asymmetry of point 3.

:class:`ReproducibleRandomnessHook` does this:

* **Model randomness (main process).** At the start of each training epoch
  it reseeds ``random``, numpy and torch (``torch.manual_seed`` seeds the
  CPU and every CUDA device) from ``(seed, epoch)``; with an iteration-based
  loop, whose checkpoints fall inside its one long "epoch", it reseeds
  before every iteration from ``(seed, iteration)`` instead. Before each
  validation it reseeds from ``(seed, iteration)`` too, so a stochastic
  evaluation (test-time augmentation, MC dropout) also repeats.
  ``runner.seed`` already differs between ranks when
  ``randomness.diff_rank_seed`` is set, and is the same on all ranks
  otherwise, as in mmengine: the hook keeps that choice.
* **Dataloader seeds.** It gives the train and validation dataloaders a
  generator of their own, reseeded each epoch, so that ``iter(dataloader)``
  no longer draws from the main stream (point 3).
* **Augmentation randomness (dataloader workers).** It wraps the
  ``pipeline`` of every dataset in the loader (found through the wrappers'
  ``dataset`` / ``_dataset`` / ``datasets`` attributes: mmengine's
  ``ClassBalancedDataset``, ``RepeatDataset``, ``ConcatDataset``, ferpretrain's
  ``ClassSubsetDataset``, ...). The epoch is published through a
  shared-memory integer created before the workers start; at its first
  sample of an epoch, each worker, persistent or not, reseeds its own
  ``random``, numpy and torch from ``(seed, epoch, rank, worker_id)``. The
  worker that loads a batch is fixed (torch hands batches round-robin from
  worker 0 each epoch), so every sample gets the same augmentation as in
  the uninterrupted run. With ``num_workers=0`` the pipeline runs in the
  main process on a private stream (seeded as worker 0's), swapped in
  around each sample, so that loading neither consumes nor depends on the
  model's stream (the swap costs about 0.1 ms a sample, mostly numpy's
  state; workers pay only one reseed, about 0.15 ms, per epoch).

As a side effect, non-persistent workers no longer repeat the same
augmentation every epoch (point 2).

Limitations:

* The seed must be fixed (``randomness = dict(seed=...)``) for a resumed run
  to see the same samples: mmengine builds the samplers with the new run's
  seed before it restores the checkpoint's. The hook warns otherwise.
* Randomness outside ``random``, numpy and torch's CPU/CUDA generators
  (e.g. OpenCV's ``cv::RNG``, a transform's own ``numpy.random.Generator``
  created once) is not reseeded.
* An iteration-based loop starts its dataloader workers before any hook
  runs, so they keep mmengine's seeding; mmengine's resume then replays the
  data by loading the skipped batches, which reproduces them as long as the
  workers are the same in number.
* Exactness also needs deterministic kernels (``deterministic=True``) and
  the same number of processes, workers and threads.
"""
import ctypes
import logging
import multiprocessing
import random
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop, EpochBasedTrainLoop
from torch.utils.data import get_worker_info

from ferpretrain.registry import HOOKS

# Keeps the derived seeds apart from any other use of SeedSequence with the
# same small numbers ('ferpr' in ASCII).
_NAMESPACE = 0x6665727072

# What a derived seed is for: each use gets a stream of its own.
_MODEL_TRAIN_EPOCH = 0
_MODEL_TRAIN_ITER = 1
_MODEL_VAL = 2
_LOADER = 3
_DATA = 4

_PHASES = ('train', 'val')


def derive_seed_words(*entropy: int) -> np.ndarray:
    """Four 32-bit words derived from integers (numpy's ``SeedSequence``:
    distinct inputs give independent-looking seeds)."""
    # SeedSequence takes non-negative integers only (a config may give a
    # negative seed).
    return np.random.SeedSequence(
        [_NAMESPACE, *(int(x) % 2**64 for x in entropy)]).generate_state(
            4, np.uint32)


def seed_everything(*entropy: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and
    every accelerator) from a seed derived from ``entropy``."""
    words = derive_seed_words(*entropy)
    random.seed(int.from_bytes(words.tobytes(), 'little'))
    np.random.seed(words)
    torch.manual_seed(int(words[0]) | (int(words[1]) << 32))


def _get_states() -> tuple:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_states(states: tuple) -> None:
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


class DataRandomness:
    """Where the random transforms of a dataloader draw from, in whichever
    process runs them.

    The main process sets the *round* (the epoch, or the iteration of a
    validation) with :meth:`start_round` before it iterates the loader; the
    value lives in shared memory, so workers that already run (persistent
    ones) see it. :meth:`run` calls a transform: in a worker, after
    reseeding the worker's generators at the first call of a new round; in
    the main process, on a private stream swapped in around the call.

    Args:
        seed (int): The run's seed.
        rank (int): This process's rank.
        phase (int): A number that tells apart the loaders of one run (0 for
            training, 1 for validation).
    """

    def __init__(self, seed: int, rank: int, phase: int):
        # Created now, in the main process, before the workers start: they
        # inherit it (fork) or receive it while they are spawned.
        self._round = multiprocessing.RawValue(ctypes.c_longlong, -1)
        self._entropy = (_DATA, int(seed), int(phase), int(rank))
        self._worker_round: Optional[int] = None
        self._main_round: Optional[int] = None
        self._main_states: Optional[tuple] = None

    def start_round(self, value: int) -> None:
        """Start a round: the next sample each process loads reseeds it."""
        self._round.value = int(value)

    def run(self, fn: Callable, *args):
        current = self._round.value
        if current < 0:
            # A sample read before the first epoch (a hook previewing the
            # data): nothing to reproduce yet, and the epoch's reseed comes
            # after it.
            return fn(*args)
        worker = get_worker_info()
        if worker is not None:
            if self._worker_round != current:
                seed_everything(*self._entropy, current, worker.id)
                self._worker_round = current
            return fn(*args)
        # Main process (num_workers=0): the model's stream stays untouched.
        outer = _get_states()
        if self._main_round != current:
            seed_everything(*self._entropy, current, 0)
            self._main_round = current
        else:
            _set_states(self._main_states)
        try:
            return fn(*args)
        finally:
            self._main_states = _get_states()
            _set_states(outer)

    def __deepcopy__(self, memo):
        # Sharing is the point: a deep copy of a dataset (e.g. a subset)
        # must still follow the hook's rounds.
        return self


class SeededPipeline:
    """A dataset's ``pipeline``, run through a :class:`DataRandomness`.

    Everything else (``transforms``, ``repr``) is the wrapped pipeline's, so
    code that inspects ``dataset.pipeline`` keeps working.
    """

    def __init__(self, pipeline: Callable, randomness: DataRandomness):
        self.pipeline = pipeline
        self.randomness = randomness

    def __call__(self, results):
        return self.randomness.run(self.pipeline, results)

    def __getattr__(self, name):
        # Only called for names the wrapper lacks; __dict__ is empty while
        # unpickling in a spawned worker.
        pipeline = self.__dict__.get('pipeline')
        if pipeline is None:
            raise AttributeError(name)
        return getattr(pipeline, name)

    def __repr__(self) -> str:
        return repr(self.pipeline)


def datasets_with_pipelines(dataset) -> Iterator:
    """``dataset`` and the datasets it wraps that have a ``pipeline``."""
    stack, seen = [dataset], set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if callable(getattr(current, 'pipeline', None)):
            yield current
        for name in ('dataset', '_dataset'):
            stack.append(getattr(current, name, None))
        children = getattr(current, 'datasets', None)
        if isinstance(children, (list, tuple)):
            stack.extend(children)


@HOOKS.register_module()
class ReproducibleRandomnessHook(Hook):
    """Restart every random stream from ``(seed, epoch)`` so that resuming
    reproduces the uninterrupted run exactly (see the module docstring for
    why and how).

    Listed in ``configs/_base_/default_runtime.py``; ``tools/train.py`` adds
    it to configs that replace ``custom_hooks``
    (:func:`use_reproducible_randomness`)::

        custom_hooks = [dict(type='ReproducibleRandomnessHook')]
    """

    # Before the other hooks of each stage, so whatever they draw is
    # reproducible too (its position in the list then does not matter).
    priority = 'VERY_HIGH'

    def __init__(self):
        self._data: Dict[str, DataRandomness] = {}

    # -- setup ------------------------------------------------------------
    def before_train(self, runner) -> None:
        seed = runner.cfg.get('randomness', {}).get('seed', None)
        if seed is None:
            # Only a resumed run is affected: say it loudly there.
            print_log(
                'ReproducibleRandomnessHook: randomness.seed is not set, so '
                'a resumed run will not see the samples in the same order '
                '(mmengine seeds the samplers before it restores the '
                "checkpoint's seed). Set randomness = dict(seed=...) for "
                'exact resumes.',
                logger='current',
                level=logging.WARNING if runner._resume else logging.INFO)
        self._install(runner, 'train', runner.train_loop.dataloader)
        if runner.val_loop is not None:
            self._install(runner, 'val', runner.val_loop.dataloader)

    def before_val(self, runner) -> None:
        # runner.val() alone, without training first.
        if 'val' not in self._data:
            self._install(runner, 'val', runner.val_loop.dataloader)

    def _install(self, runner, phase: str, dataloader) -> None:
        if phase in self._data:
            return
        randomness = DataRandomness(runner.seed, get_rank(),
                                    _PHASES.index(phase))
        wrapped: List[str] = []
        for dataset in datasets_with_pipelines(dataloader.dataset):
            if not isinstance(dataset.pipeline, SeededPipeline):
                dataset.pipeline = SeededPipeline(dataset.pipeline,
                                                  randomness)
                wrapped.append(type(dataset).__name__)
        if not wrapped:
            print_log(
                f'ReproducibleRandomnessHook: no `pipeline` found in the '
                f'{phase} dataset {type(dataloader.dataset).__name__} (nor '
                'in the datasets it wraps): its random transforms, if any, '
                'are not reseeded each epoch.',
                logger='current',
                level=logging.WARNING)
        self._data[phase] = randomness

    def _start_round(self, runner, phase: str, dataloader,
                     value: int) -> None:
        if phase in self._data:
            self._data[phase].start_round(value)
        # The base seed each iter(dataloader) draws comes from here, not
        # from the model's stream.
        if dataloader.generator is None:
            dataloader.generator = torch.Generator()
        words = derive_seed_words(_LOADER, runner.seed,
                                  _PHASES.index(phase), value)
        dataloader.generator.manual_seed(int(words[0]) | int(words[1]) << 32)

    # -- every epoch / iteration ------------------------------------------
    def before_train_epoch(self, runner) -> None:
        self._start_round(runner, 'train', runner.train_loop.dataloader,
                          runner.epoch)
        seed_everything(_MODEL_TRAIN_EPOCH, runner.seed, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            seed_everything(_MODEL_TRAIN_ITER, runner.seed, runner.iter)

    def before_val_epoch(self, runner) -> None:
        # Not runner.iter: in a runner.val() run that property would build
        # the train loop, and its dataloader, as a side effect.
        loop = runner._train_loop
        trained = loop.iter if isinstance(loop, BaseLoop) else 0
        self._start_round(runner, 'val', runner.val_loop.dataloader, trained)
        seed_everything(_MODEL_VAL, runner.seed, trained)


def use_reproducible_randomness(cfg) -> bool:
    """Make sure a config trains with :class:`ReproducibleRandomnessHook`.

    ``configs/_base_/default_runtime.py`` lists the hook, but a config that
    sets ``custom_hooks`` replaces that list; ``tools/train.py`` calls this
    so that every run has it. The hook goes first in the list (its priority
    decides when it runs; the user's hooks stay where they were, last ones
    last).

    Returns:
        bool: whether the hook was added (False: already there).
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    for hook in hooks:
        if isinstance(hook, ReproducibleRandomnessHook) or (
                isinstance(hook, dict) and hook.get('type') in (
                    'ReproducibleRandomnessHook', ReproducibleRandomnessHook)):
            return False
    cfg.custom_hooks = [dict(type='ReproducibleRandomnessHook'), *hooks]
    return True
