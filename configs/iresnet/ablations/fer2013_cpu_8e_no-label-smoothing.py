# Ablation: plain cross-entropy instead of label smoothing 0.1.
_base_ = ['./fer2013_cpu_8e.py']

model = dict(
    head=dict(loss=dict(_delete_=True, type='CrossEntropyLoss')))
