"""Distributed training and testing on machines without a GPU.

mmengine 0.10.7 assumes a GPU once a launcher is given:

* ``mmengine.dist.utils._init_dist_pytorch`` (and ``_slurm``/``_mpi``) call
  ``torch.cuda.set_device(local_rank)`` before ``init_process_group``, which
  fails without CUDA devices, and the default backend is ``nccl``;
* ``Runner.wrap_model`` builds ``MMDistributedDataParallel`` with
  ``device_ids=[LOCAL_RANK]``, which torch's DDP rejects for a CPU module.

Two properties of mmengine make a clean fix possible without patching it:
``Runner.setup_env`` only calls ``init_dist`` when the process group does
not exist yet, and ``MODEL_WRAPPERS.build(model_wrapper_cfg, default_args)``
lets keys of the config win over ``default_args``. So
:func:`setup_cpu_distributed` initialises the process group with ``gloo``
itself and writes a ``model_wrapper_cfg`` with ``device_ids=None`` before the
``Runner`` is built. With a GPU it changes nothing.
"""
import datetime
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log

__all__ = ['setup_cpu_distributed']

_DDP_TYPES = ('MMDistributedDataParallel', 'DistributedDataParallel')


def _env_from_slurm(port: Optional[int]) -> None:
    """Fill torch's env:// variables from SLURM's, as mmengine does."""
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')


def _env_from_mpi() -> None:
    """Fill torch's env:// variables from Open MPI's, as mmengine does."""
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ.setdefault('LOCAL_RANK',
                          os.environ.get('OMPI_COMM_WORLD_LOCAL_RANK', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('The environment variable MASTER_ADDR is not set')


def _cpu_model_wrapper_cfg(cfg) -> dict:
    """A ``model_wrapper_cfg`` whose DDP wrapper accepts a CPU module."""
    from torch.nn.parallel import DistributedDataParallel

    # mmpretrain's node: resolves its own wrappers and, through the parent,
    # mmengine's.
    from ferpretrain.registry import MODEL_WRAPPERS

    wrapper = cfg.get('model_wrapper_cfg', None)
    wrapper = dict(wrapper) if wrapper is not None else {}
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper_type = wrapper['type']
    if isinstance(wrapper_type, str):
        wrapper_cls = MODEL_WRAPPERS.get(wrapper_type)
    else:
        wrapper_cls = wrapper_type
    if not (isinstance(wrapper_cls, type)
            and issubclass(wrapper_cls, DistributedDataParallel)):
        # A custom wrapper (FSDP, DeepSpeed, ...) decides itself.
        return wrapper
    # Runner.wrap_model passes device_ids=[LOCAL_RANK] as a default
    # argument; a key in the config wins, and DDP needs None for CPU.
    wrapper['device_ids'] = None
    # Runner's own default, which a config without a wrapper would get.
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    return wrapper


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare a config for distributed running on CPU, if needed.

    Does nothing when ``launcher == 'none'`` or a CUDA device is available
    (mmengine's own path then works). Otherwise:

    * sets ``cfg.env_cfg.dist_cfg.backend = 'gloo'``;
    * initialises the default process group with ``gloo`` from the
      launcher's environment (``env://``: ``RANK``, ``WORLD_SIZE``,
      ``MASTER_ADDR``, ``MASTER_PORT``; SLURM and Open MPI variables are
      translated first), so that ``Runner.setup_env`` skips mmengine's
      CUDA-only ``init_dist``;
    * sets ``cfg.model_wrapper_cfg`` to ``MMDistributedDataParallel`` with
      ``device_ids=None``, keeping ``broadcast_buffers`` (default ``False``)
      and ``find_unused_parameters`` from the config.

    Args:
        cfg (mmengine.Config): The config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: Whether the CPU setup was applied.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False

    env_cfg = cfg.get('env_cfg', None) or {}
    dist_cfg = dict(env_cfg.get('dist_cfg', None) or {})
    requested = dist_cfg.get('backend', 'nccl')
    dist_cfg['backend'] = 'gloo'
    env_cfg = dict(env_cfg)
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg

    if launcher == 'slurm':
        _env_from_slurm(dist_cfg.get('port', None))
    elif launcher == 'mpi':
        _env_from_mpi()
    elif launcher != 'pytorch':
        raise ValueError(f'Invalid launcher type: {launcher}')

    if not torch_dist.is_initialized():
        # Logged before the group exists, so every rank prints it (mmengine
        # silences INFO on ranks other than 0 once it knows the rank).
        print_log(
            f'No CUDA device: rank {os.environ["RANK"]} of world_size '
            f'{os.environ["WORLD_SIZE"]} joins torch.distributed with the '
            f'gloo backend (config asked for {requested!r}), init '
            f'env://{os.environ.get("MASTER_ADDR")}:'
            f'{os.environ.get("MASTER_PORT")}',
            logger='current')
        kwargs = {}
        timeout = dist_cfg.get('timeout', None)
        if timeout is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(
            backend='gloo',
            init_method='env://',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)

    cfg.model_wrapper_cfg = _cpu_model_wrapper_cfg(cfg)
    print_log(
        f'Distributed {launcher!r} run on CPU: backend '
        f'{torch_dist.get_backend()}, world_size '
        f'{torch_dist.get_world_size()}, model_wrapper_cfg='
        f'{cfg.model_wrapper_cfg}',
        logger='current')
    return True
