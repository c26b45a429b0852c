import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


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
            'optional': parse_requirements('optional'),
            'deploy': parse_requirements('deploy'),
            'all': parse_requirements('tests') +
            parse_requirements('optional') + parse_requirements('deploy'),
        },
        zip_safe=False)
