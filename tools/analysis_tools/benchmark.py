"""Measure training and inference speed of a config, fp32 and bf16.

    python tools/analysis_tools/benchmark.py configs/apvit/raf.py
    python tools/analysis_tools/benchmark.py CONFIG --batch-size 16 \
        --dtypes fp32 bf16 --iters 5 --out work_dirs/bench/apvit.json
    python tools/analysis_tools/benchmark.py CONFIG --with-data ...
    python tools/analysis_tools/benchmark.py CONFIG --compile ...

For each dtype (``fp32``; ``bf16``: autocast, as ``tools/train.py --amp``):

- training: forward, backward and the config's optimizer step (SAM's two
  passes included, gradient clipping included) on batches of the training
  batch size, in images per second;
- inference: ``test_step`` under ``torch.no_grad()`` at batch 1 (ms per
  image, the latency a demo sees) and at the test batch size (images per
  second); bf16 inference casts the weights to bf16 once and runs under
  autocast (which casts the inputs).

The report names the threads torch uses, the CPU's matrix features (AMX,
AVX-512, AVX-512-BF16, from ``/proc/cpuinfo``, and torch's CPU capability)
and the GPU, prints a Markdown table and, with ``--out``, writes it all as
JSON. The inputs are random tensors of the test pipeline's size, so the
figures measure the model alone; ``--with-data`` draws real batches from
the config's dataloaders instead (decoding and augmentation included).
The allocator is set up as the training and test tools set it
(``ferpretrain.engine.tune_malloc``); ``FERPRETRAIN_MALLOC=default`` measures
with glibc's own settings. ``--compile`` (or ``compile`` in the config)
measures the model with its
networks compiled (``ferpretrain.engine.compile_model``); the warm-up
iterations absorb the compilation, so give at least one.
"""
import argparse
import json
import os
import os.path as osp
import platform
import time
from contextlib import nullcontext

import torch
from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark training iterations and inference speed')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--batch-size', type=int, help='training batch size '
                        '(default: the config\'s train_dataloader)')
    parser.add_argument('--test-batch-size', type=int, help='inference batch '
                        'size (default: the config\'s test_dataloader)')
    parser.add_argument('--iters', type=int, default=10,
                        help='timed iterations (default 10)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed iterations first (default 3)')
    parser.add_argument('--dtypes', nargs='+', choices=('fp32', 'bf16'),
                        default=['fp32', 'bf16'],
                        help='precisions to measure (default: both)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the networks first (the config\'s '
                        '`compile` options, or torch\'s defaults)')
    parser.add_argument('--skip-train', action='store_true',
                        help='measure inference only')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--with-data', action='store_true',
                        help='use the config\'s dataloaders (needs the '
                        'dataset on disk)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s)')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    return parser.parse_args(argv)


def _random_batches(batch_size, shape, num_classes):
    from mmpretrain.structures import DataSample
    while True:
        inputs = torch.randint(0, 256, (batch_size, 3, *shape),
                               dtype=torch.uint8)
        samples = [
            DataSample().set_gt_label(i % num_classes)
            for i in range(batch_size)
        ]
        yield dict(inputs=list(inputs), data_samples=samples)


def _loader_batches(cfg_loader, batch_size):
    from mmengine.runner import Runner
    cfg_loader = cfg_loader.copy()
    cfg_loader['batch_size'] = batch_size
    cfg_loader['persistent_workers'] = False
    loader = Runner.build_dataloader(cfg_loader)
    while True:
        yield from loader


def _time(step, batches, warmup, iters, sync):
    for _ in range(warmup):
        step(next(batches))
    sync()
    times = []
    for _ in range(iters):
        batch = next(batches)
        start = time.perf_counter()
        step(batch)
        sync()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], sum(times) / len(times)


def cpu_features() -> dict:
    """Matrix-relevant CPU flags and torch's view of the CPU."""
    flags = set()
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags') and not flags:
                    flags = set(line.split(':', 1)[1].split())
                elif line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
    except OSError:  # not Linux: flags unknown
        pass
    wanted = ('avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_tile',
              'amx_bf16', 'amx_int8')
    capability = getattr(torch.backends.cpu, 'get_cpu_capability',
                         lambda: 'unknown')()
    return dict(
        model=model,
        flags=[f for f in wanted if f in flags],
        torch_capability=capability,
        logical_cpus=os.cpu_count())


def run_benchmark(cfg, device, dtypes, train_bs, test_bs, iters, warmup,
                  with_data=False, skip_train=False, compile_cfg=None):
    """Time training and inference per dtype; returns a list of rows.

    ``compile_cfg`` (``True`` or ``torch.compile`` options) compiles each
    model's networks before it is timed.
    """
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.apis import get_model

    from ferpretrain.analysis import infer_input_size
    from ferpretrain.engine import (compile_model, full_precision_cfg,
                                    mixed_precision_cfg)

    sync = torch.cuda.synchronize if device.startswith('cuda') else (
        lambda: None)
    shape = infer_input_size(cfg) or (224, 224)
    num_classes = cfg.model.head.num_classes
    rows = []
    for dtype in dtypes:
        torch.manual_seed(0)
        model = get_model(cfg, device=device)
        compiled = compile_model(model, compile_cfg)
        cast = torch.bfloat16 if dtype == 'bf16' else None
        row = dict(dtype=dtype, input=list(shape), compiled=compiled)

        def batches(bs, loader_cfg):
            if with_data:
                return _loader_batches(loader_cfg, bs)
            return _random_batches(bs, shape, num_classes)

        if not skip_train:
            # Each row in its own precision, whatever the config trains in
            # (a *_bf16.py config's fp32 row runs a plain OptimWrapper).
            if cast is not None:
                wrapper_cfg = mixed_precision_cfg(cfg.optim_wrapper,
                                                  'bfloat16')
            else:
                wrapper_cfg = full_precision_cfg(cfg.optim_wrapper)
            optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
            model.train()
            med, _ = _time(lambda b: model.train_step(b, optim_wrapper),
                           batches(train_bs, cfg.train_dataloader), warmup,
                           iters, sync)
            row.update(train_batch=train_bs, train_s_per_iter=med,
                       train_images_per_s=train_bs / med)
        model.eval()
        if cast is not None:
            # bf16 inference as deployed: weights cast once. Under autocast
            # alone every call re-casts the fp32 weights (65 M for APViT),
            # which at batch 1 costs as much as the convolutions.
            model.to(cast)

        def infer(b):
            context = torch.autocast(device.split(':')[0], dtype=cast) \
                if cast is not None else nullcontext()
            with context:
                model.test_step(b)

        with torch.no_grad():
            med, _ = _time(infer, batches(1, cfg.test_dataloader), warmup,
                           iters, sync)
            row.update(infer_ms_per_image_batch1=med * 1000)
            med, _ = _time(infer, batches(test_bs, cfg.test_dataloader),
                           warmup, max(iters // 2, 1), sync)
            row.update(infer_batch=test_bs,
                       infer_images_per_s=test_bs / med)
        rows.append(row)
    return rows


def format_table(rows) -> str:
    """The results as a Markdown table."""
    lines = [
        '| dtype | train images/s (batch) | ms/image at batch 1 | '
        'inference images/s (batch) |', '|---|---|---|---|'
    ]
    for r in rows:
        train = (f"{r['train_images_per_s']:.1f} ({r['train_batch']})"
                 if 'train_images_per_s' in r else 'not measured')
        lines.append(
            f"| {r['dtype']} | {train} | "
            f"{r['infer_ms_per_image_batch1']:.1f} | "
            f"{r['infer_images_per_s']:.1f} ({r['infer_batch']}) |")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    from ferpretrain.engine.malloc import tune_malloc
    from ferpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    # As tools/train.py and tools/test.py do, so the figures are theirs.
    _, malloc_msg = tune_malloc()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.threads:
        torch.set_num_threads(args.threads)
    compile_cfg = cfg.pop('compile', None) or (True if args.compile else None)
    if compile_cfg and args.warmup < 1:
        raise SystemExit('--compile needs --warmup 1 or more: the first '
                         'iteration compiles.')
    from mmengine.registry import init_default_scope

    # The dataloaders are built outside a Runner: their type names resolve in
    # the config's scope (mmpretrain's, where ferpretrain registers).
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    train_bs = args.batch_size or cfg.train_dataloader.batch_size
    test_bs = args.test_batch_size or cfg.test_dataloader.batch_size
    rows = run_benchmark(cfg, device, args.dtypes, train_bs, test_bs,
                         args.iters, args.warmup, args.with_data,
                         args.skip_train, compile_cfg)
    report = dict(
        config=args.config,
        device=device,
        gpu=torch.cuda.get_device_name(device)
        if device.startswith('cuda') else None,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        cpu=cpu_features(),
        allocator=malloc_msg,
        inputs='dataloaders' if args.with_data else 'random tensors',
        compile=compile_cfg,
        iters=args.iters,
        results=rows)
    cpu = report['cpu']
    print('=' * 72)
    print(f'config: {args.config}')
    gpu = f" ({report['gpu']})" if report['gpu'] else ''
    print(f'device: {device}{gpu}, torch {torch.__version__}, '
          f"{report['threads']} threads")
    print(f"cpu: {cpu['model']}; features: {', '.join(cpu['flags']) or 'none'}"
          f"; torch capability {cpu['torch_capability']}")
    print(f'memory allocator: {malloc_msg}')
    compiled = (f", compiled: {', '.join(rows[0]['compiled'])}"
                if rows[0]['compiled'] else '')
    print(f"input {rows[0]['input'][0]}x{rows[0]['input'][1]}, "
          f"{report['inputs']}, median of {args.iters} iterations{compiled}")
    print(format_table(rows))
    print('=' * 72)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'written to {args.out}')


if __name__ == '__main__':
    from ferpretrain.utils.errors import run_tool
    run_tool(main)
