"""Keep glibc's allocator from handing tensor memory back to the kernel on
every training step.

A CPU training step frees and re-allocates the same activation buffers
(hundreds of KB to tens of MB each) every iteration. With glibc's default
settings many of them are served by ``mmap`` and returned with ``munmap``
(or the heap top is trimmed with ``madvise``/``brk``) as soon as they are
freed, so the next step touches fresh pages and the kernel zero-fills them:
measured on the project's 2-core machine, POSTER V2's CPU recipe took
110,000 minor page faults and 0.26 s of kernel time per step of 64 images,
0.66 s per step in all; with the settings below 11,000 faults, 0.03 s and
0.49 s. PyTorch's CPU tuning guide gets the same effect by preloading
jemalloc or tcmalloc; this needs no extra library.

:func:`tune_malloc` calls glibc's ``mallopt`` in the running process:

- ``M_MMAP_THRESHOLD`` = 32 MiB (glibc's upper limit on 64-bit): blocks below
  that come from the heap, whose pages stay mapped for the next step;
- ``M_TRIM_THRESHOLD`` = 1 GiB: free memory at the heap top is kept unless
  more than that is idle.

The price is memory the process keeps after a peak rather than returning it
(peak RSS of that recipe over two pairs of runs: 1.28 GB before, 1.30-1.37
GB after). ``tools/train.py``,
``tools/test.py`` and ``benchmark.py`` call it at start-up; the data loader's
worker processes inherit the settings through ``fork``. It does nothing
(and says why) where the C library is not glibc, where
``GLIBC_TUNABLES`` already sets ``glibc.malloc.*`` or ``LD_PRELOAD``
replaces the allocator (the user's choice wins), or when
``FERPRETRAIN_MALLOC=default``.
"""
import ctypes
import os
import sys
from typing import Tuple

__all__ = ['MALLOC_ENV', 'tune_malloc']

#: Set to ``default`` to keep the C library's own allocator settings.
MALLOC_ENV = 'FERPRETRAIN_MALLOC'

# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc refuses larger values: HEAP_MAX_SIZE / 2 on 64-bit.
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30


def tune_malloc() -> Tuple[bool, str]:
    """Apply the allocator settings of this module's docstring.

    Returns:
        tuple[bool, str]: whether they were applied, and a line saying what
        was done or why not (for the log).
    """
    if os.environ.get(MALLOC_ENV, '') == 'default':
        return False, f'allocator left as is ({MALLOC_ENV}=default)'
    if not sys.platform.startswith('linux'):
        return False, f'allocator left as is (not Linux: {sys.platform})'
    if 'glibc.malloc.' in os.environ.get('GLIBC_TUNABLES', ''):
        return False, 'allocator left as is (GLIBC_TUNABLES sets it)'
    preload = os.environ.get('LD_PRELOAD', '')
    if 'malloc' in preload:  # jemalloc, tcmalloc, mimalloc
        return False, f'allocator left as is (LD_PRELOAD={preload})'
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False, 'allocator left as is (the C library is not glibc)'
    version.restype = ctypes.c_char_p
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Each returns 1 on success; glibc leaves a setting it refuses unchanged.
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return False, (f'allocator left as is (glibc '
                       f'{version().decode()} refused mallopt)')
    return True, (f'glibc {version().decode()} malloc: mmap threshold '
                  f'{MMAP_THRESHOLD >> 20} MiB, trim threshold '
                  f'{TRIM_THRESHOLD >> 20} MiB ({MALLOC_ENV}=default '
                  'keeps glibc\'s own)')
