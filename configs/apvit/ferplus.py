# APViT on FERPlus (8 classes, majority labels), with the paper's RAF-DB
# recipe; the paper reports 90.86 on FERPlus but its FERPlus settings are not
# in the official code. FER2013Valid is evaluated each epoch; test with
#   python tools/test.py configs/apvit/ferplus.py \
#       work_dirs/ferplus/epoch_40.pth
# (FER2013Test). Train on the vote distribution instead with
#   --cfg-options train_dataloader.dataset.label_mode=crossentropy \
#       model.head.loss.use_soft=True
_base_ = [
    '../_base_/models/apvit_ir50_vit-s_pretrained.py',
    '../_base_/datasets/ferplus_112.py',
    '../_base_/schedules/apvit_sgd-cosine_40e.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=8))
