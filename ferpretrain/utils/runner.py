"""What tools/train.py and tools/test.py share on top of mmengine's Runner."""
import os.path as osp

from mmengine.runner import Runner

__all__ = [
    'KeepExistingConfigRunner', 'drop_persistent_workers_without_workers'
]


class KeepExistingConfigRunner(Runner):
    """A Runner whose config dump never replaces an existing file.

    mmengine writes ``<work_dir>/<config name>`` at every start, over an
    earlier run's dump (or over the user's own config when it lives there).
    When that file exists, the dump goes to this run's timestamped log
    directory instead, so no run loses what another one left.
    """

    def dump_config(self):
        name = (osp.basename(self.cfg.filename)
                if self.cfg.filename is not None else f'{self.timestamp}.py')
        target = osp.join(self.work_dir, name)
        if osp.exists(target):
            target = osp.join(self.log_dir, name)
        self.cfg.dump(target)


def drop_persistent_workers_without_workers(cfg):
    """Turn ``persistent_workers`` off for dataloaders with no workers.

    torch refuses ``persistent_workers=True`` with ``num_workers=0``; a
    config that asks for persistent workers and is then run with
    ``--cfg-options ...num_workers=0`` means "no worker processes", so honour
    that instead of crashing.
    """
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field, None)
        if loader and loader.get('num_workers', 0) == 0 and loader.get(
                'persistent_workers', False):
            loader['persistent_workers'] = False
    return cfg
