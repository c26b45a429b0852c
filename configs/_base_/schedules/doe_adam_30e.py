# The seed's training of both Difference-of-Embeddings models: Adam,
# batch 32, 30 epochs, cross-entropy. Its learning rate was not given: Adam's
# usual 1e-3, constant (no schedule was given either).
max_epochs = 30
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
