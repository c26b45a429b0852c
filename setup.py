import os
import os.path as osp
import platform
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))

#: What an installed ferpretrain needs from the checkout, in the package's
#: ``.mim`` folder as mmpretrain ships its own: the configs (get_model by
#: name, tools), the tools (converters, train/test) and the model index
#: that names the configs relative to this folder.
MIM_FILES = ('configs', 'tools', 'model-index.yml')
#: The files of ``.mim`` that a wheel installs (``package_data``; MANIFEST.in
#: lists the same for an sdist). Checkpoints never go in.
MIM_PATTERNS = ('.mim/model-index.yml', '.mim/configs/**/*.py',
                '.mim/configs/**/*.yml', '.mim/configs/**/*.md',
                '.mim/tools/**/*.py', '.mim/tools/**/*.sh')
#: The checkpoints that ship with the package (``ferpretrain://<file>`` in a
#: metafile's Weights; ferpretrain/utils/resources.py).
WEIGHTS_PATTERNS = ('weights/*.pth', )


def add_mim_extension():
    """Fill ``ferpretrain/.mim`` with the checkout's configs, tools and
    model index, as mmpretrain's setup.py does.

    Links in an editable install (``pip install -e .`` runs ``develop`` or
    ``editable_wheel``), so that edits show at once; copies when a wheel
    or an sdist is built (``bdist_wheel``, ``sdist``, ``build``, a plain
    ``install``), so that the installed package works from any folder
    without the checkout. Other commands (``egg_info``, ``dist_info``,
    ``clean``) leave the folder alone.
    """
    commands = set(sys.argv[1:])
    if commands & {'develop', 'editable_wheel'}:
        # Windows needs privileges for symbolic links: copy there.
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif commands & {'bdist_wheel', 'sdist', 'build', 'install'}:
        mode = 'copy'
    else:
        return
    mim = osp.join(HERE, 'ferpretrain', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim, name)
        if not osp.exists(src):
            # An sdist being rebuilt into a wheel has only the .mim copy.
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns(
                    '__pycache__', '*.pyc', '*.pth', '*.pt'))
        else:
            shutil.copyfile(src, dst)


def readme():
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join(HERE, 'ferpretrain', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(name):
    """Read ``requirements/<name>.txt`` (comments and blank lines dropped)."""
    reqs = []
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-r'):
                reqs.append(line)
    return reqs


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='ferpretrain',
        version=get_version(),
        description='Facial expression recognition with transformers: an '
        'OpenMMLab (mmpretrain) plugin',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='facial expression recognition, vision transformer, '
        'mmpretrain, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={
            'ferpretrain': list(MIM_PATTERNS) + list(WEIGHTS_PATTERNS)
        },
        python_requires='>=3.9',
        classifiers=[
            'Development Status :: 3 - Alpha',
            'Operating System :: OS Independent',
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime'),
        extras_require={
            'tests': parse_requirements('tests'),
            'deploy': parse_requirements('deploy'),
            'mmaction': parse_requirements('mmaction'),
            'all': (parse_requirements('tests') +
                    parse_requirements('deploy') +
                    parse_requirements('mmaction')),
        },
        zip_safe=False)
