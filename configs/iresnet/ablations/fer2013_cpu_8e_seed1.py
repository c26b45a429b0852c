# The reference run with another seed: how far two runs of one recipe
# differ, against which the ablations' differences are read.
_base_ = ['./fer2013_cpu_8e.py']

randomness = dict(seed=1)
