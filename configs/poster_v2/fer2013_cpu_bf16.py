# POSTER V2's CPU recipe (fer2013_cpu.py: same model, same 6 epochs) trained
# in bfloat16: 26 min against fp32's 38 min, both with glibc's default
# allocator; with tools/train.py's allocator settings (tune_malloc) fp32 takes
# 27.8 min too, so at this width bf16 is not what fits the 30-minute budget.
# On this project's 2-core AMD EPYC (AVX-512-BF16,
# no AMX) a training step of 64 images takes about 0.47 s in bf16 and 0.61 s
# in fp32 (benchmark.py, random inputs, channels_last both). The gain is
# smaller than on APViT's wider recipe: at this width much of a step is
# memory-bound (PReLU, batch norm, depthwise convolutions), and the frozen
# landmark network's forward is a quarter of it. The budget buys no more
# than these 6 epochs, so the model keeps its size. Results and timing:
# configs/poster_v2/README.md.
#   python tools/train.py configs/poster_v2/fer2013_cpu_bf16.py --cfg-options \
#       train_dataloader.dataset.data_root=../shared/data/fer2013 \
#       val_dataloader.dataset.data_root=../shared/data/fer2013
_base_ = ['./fer2013_cpu.py']

# bf16 autocast on any device (the same wrapper ``tools/train.py --amp``
# sets up); master weights and AdamW's state stay fp32.
optim_wrapper = dict(type='MixedPrecisionOptimWrapper', dtype='bfloat16')
# Validation and testing under bf16 autocast as well.
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
