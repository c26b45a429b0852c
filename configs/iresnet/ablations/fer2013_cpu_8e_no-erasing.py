# Ablation: the recipe without random erasing.
_base_ = ['./fer2013_cpu_8e.py']

train_pipeline = [
    step for step in _base_.train_pipeline if step['type'] != 'RandomErasing'
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
