"""Count the parameters and MACs of a whole ferpretrain/mmpretrain model.

Unlike mmpretrain's tool, which counts only ``extract_feat``, this runs the
whole classifier (backbone, neck and head), as the FER papers count.

    python tools/analysis_tools/get_flops.py configs/apvit/raf.py
    python tools/analysis_tools/get_flops.py CONFIG --shape 224 224
    python tools/analysis_tools/get_flops.py CONFIG --convention thop

``--convention fvcore`` (default) counts the attention matrix products, as
the TransFER and APViT figures do; ``thop`` counts modules only, as POSTER
V2's figures do.
"""
import argparse

from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(
        description='Count parameters and MACs of the whole model')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=None,
        help='input size: S, H W or C H W (default: the size the config\'s '
        'test pipeline produces, else 224)')
    parser.add_argument(
        '--convention',
        choices=['fvcore', 'thop'],
        default='fvcore',
        help='MAC counting convention (default: fvcore; thop = modules '
        'only, no attention matrix products)')
    parser.add_argument(
        '--per-module',
        action='store_true',
        help='also print a table of parameters and MACs per module')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    from ferpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    from mmpretrain.apis import get_model

    from ferpretrain.analysis import get_model_complexity, infer_input_size

    if args.shape is None:
        shape = infer_input_size(cfg) or (224, 224)
    elif len(args.shape) == 1:
        shape = (args.shape[0], args.shape[0])
    else:
        shape = tuple(args.shape)
    # Weights do not change the count: never load pretrained files here.
    model = get_model(cfg, device='cpu')
    result = get_model_complexity(model, shape, args.convention)
    split_line = '=' * 40
    print(f'{split_line}\nconfig: {args.config}\n{result}\n{split_line}')
    if result.unsupported_ops:
        print('Not counted (no MACs by convention): ' + ', '.join(
            f'{k} x{v}' for k, v in sorted(result.unsupported_ops.items())))
    if args.per_module:
        from mmengine.analysis import get_model_complexity_info
        from ferpretrain.analysis.complexity import _TensorMode
        faces = getattr(model, 'faces_per_input', 1)
        input_shape = ((faces, 3) if faces > 1 else (3, )) + shape[-2:]
        info = get_model_complexity_info(
            _TensorMode(model), input_shape=input_shape, show_arch=False)
        print(info['out_table'])


if __name__ == '__main__':
    from ferpretrain.utils.errors import run_tool
    run_tool(main)
