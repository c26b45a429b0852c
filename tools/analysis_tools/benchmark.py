"""Measure training-iteration time and inference throughput of a config.

    python tools/analysis_tools/benchmark.py configs/apvit/fer2013_cpu.py
    python tools/analysis_tools/benchmark.py CONFIG --batch-size 64 \
        --iters 20 --with-data --cfg-options ...

Training: forward, backward and optimizer step (the config's optimizer,
gradient clipping included) on batches of the config's training batch size.
Inference: ``model(inputs, mode='predict')`` under ``torch.no_grad()`` at the
test batch size, in images per second. By default the inputs are random
tensors of the test pipeline's size, so the figures measure the model alone;
``--with-data`` draws real batches from the config's dataloaders instead
(decoding and augmentation included).
"""
import argparse
import time

import torch
from mmengine.config import Config, DictAction


def parse_args():
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
    parser.add_argument('--with-data', action='store_true',
                        help='use the config\'s dataloaders (needs the '
                        'dataset on disk)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch\'s)')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    return parser.parse_args()


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


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmpretrain.apis import get_model

    from ferpretrain.analysis import infer_input_size

    # The dataloaders are built outside a Runner: their type names resolve in
    # the config's scope (mmpretrain's, where ferpretrain registers).
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    sync = torch.cuda.synchronize if device.startswith('cuda') else (
        lambda: None)
    shape = infer_input_size(cfg) or (224, 224)
    train_bs = args.batch_size or cfg.train_dataloader.batch_size
    test_bs = args.test_batch_size or cfg.test_dataloader.batch_size
    num_classes = cfg.model.head.num_classes

    model = get_model(cfg, device=device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)

    if args.with_data:
        train_batches = _loader_batches(cfg.train_dataloader, train_bs)
        test_batches = _loader_batches(cfg.test_dataloader, test_bs)
    else:
        train_batches = _random_batches(train_bs, shape, num_classes)
        test_batches = _random_batches(test_bs, shape, num_classes)

    def train_step(batch):
        model.train_step(batch, optim_wrapper)

    def infer_step(batch):
        model.test_step(batch)

    model.train()
    train_med, train_mean = _time(train_step, train_batches, args.warmup,
                                  args.iters, sync)
    model.eval()
    with torch.no_grad():
        test_med, test_mean = _time(infer_step, test_batches, args.warmup,
                                    args.iters, sync)
    source = 'real batches from the dataloaders' if args.with_data else \
        'random inputs (model only)'
    print('=' * 60)
    print(f'config: {args.config}')
    print(f'device: {device}, torch threads: {torch.get_num_threads()}, '
          f'input {shape[0]}x{shape[1]}, {source}')
    print(f'train: batch {train_bs}: {train_med:.3f} s/iter (median of '
          f'{args.iters}; mean {train_mean:.3f}) = '
          f'{train_bs / train_med:.1f} images/s')
    print(f'inference: batch {test_bs}: {test_bs / test_med:.1f} images/s '
          f'({test_med * 1000 / test_bs:.2f} ms/image)')
    print('=' * 60)


if __name__ == '__main__':
    main()
