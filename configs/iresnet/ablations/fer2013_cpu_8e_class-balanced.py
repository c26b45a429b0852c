# Ablation: a class-balanced loss. Each class's loss is weighted by the
# inverse of its frequency in FER2013's training split, scaled so that the
# weights average 1 over the training images: w_c = N / (7 n_c) with
# N = 28,709 and n = (3995, 436, 4097, 7215, 4830, 3171, 4965) images of
# Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral (counted in
# ../shared/data/fer2013/train).
_base_ = ['./fer2013_cpu_8e.py']

_counts = (3995, 436, 4097, 7215, 4830, 3171, 4965)
model = dict(
    head=dict(
        loss=dict(
            class_weight=[
                round(sum(_counts) / (len(_counts) * n), 3) for n in _counts
            ])))
