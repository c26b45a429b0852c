"""The shared IR-50 gives the multi-scale maps POSTER V2 needs.

POSTER V2 (Talented-Q/POSTER_V2, ``models/ir50.py``) takes the outputs of
IR-50 stages 1-3 (64x56x56, 128x28x28, 256x14x14 for a 112x112 face), each
through a stride-2 conv to 28/14/7, the sizes of the MobileFaceNet query
maps (``conv_3``, ``conv_4``, ``conv_6_sep``). POSTER, TransFER and APViT use
only the last one.
"""
import torch

from ferpretrain.models.backbones import IResNet, MobileFaceNet


def test_ir50_returns_posterv2_scales_matching_the_landmark_queries():
    torch.manual_seed(0)
    multi = IResNet(depth=50, num_stages=3, out_indices=(0, 1, 2)).eval()
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        outs = multi(x)
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 56, 56),
                                                  (128, 28, 28),
                                                  (256, 14, 14)]
    assert multi.out_channels == (64, 128, 256)

    # After POSTER V2's stride-2 convs each image map lines up with its
    # landmark query map.
    queries = MobileFaceNet(out_indices=(1, 2, 4))(x)
    for image_map, query in zip(outs, queries):
        assert image_map.shape[-1] // 2 == query.shape[-1]

    # The outputs are the stage outputs themselves, in order.
    with torch.no_grad():
        y = multi.input_layer(x)
        for stage, out in zip(multi.body, outs):
            y = stage(y)
            assert torch.equal(y, out)
