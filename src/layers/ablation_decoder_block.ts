import { serialization } from '@tensorflow/tfjs-core';
import { readsTag, type BottleneckStrategy } from './bottleneck.js';
import { checkOneOf } from './checks.js';
import { PixelShuffleDecoderBlock, type DecoderBlockVariant, type PixelShuffleDecoderBlockArgs } from './se_resnext.js';
import type { TorchParam } from './torch_layer.js';

/**
 * The decoder blocks the Tag2Pix paper compares with SECat (Table 3 / Figure 11), as the
 * official code implements them (`model/GD_*.py`):
 * - `'resnext'` (a): ResNeXt bottlenecks, no excitation, no tag input;
 * - `'se-resnext'` (b): SE-ResNeXt bottlenecks with plain SE, no tag input;
 * - `'concat-front'` (c): the tag vector tiled to `H×W×d` and concatenated in front of each
 *   bottleneck's first 1×1 conv; plain SE;
 * - `'concat-all'` (c'): the tiled tag concatenated in front of every conv of the bottleneck;
 * - `'adain'` (d): each BatchNorm replaced by AdaIN (instance norm, then a per-channel scale and
 *   shift from an equalised-learning-rate Linear of the tag vector), a ReLU after each, and no
 *   residual path, exactly as `GD_adain.py` computes it.
 */
export type AblationBlockKind = 'resnext' | 'se-resnext' | 'concat-front' | 'concat-all' | 'adain';

/** Every ablation block kind, in the paper's order. */
export const ABLATION_BLOCK_KINDS: readonly AblationBlockKind[] = ['resnext', 'se-resnext', 'concat-front', 'concat-all', 'adain'];

/** The generator's decoder block: SECat (the published model) or one of the paper's ablations. */
export type DecoderBlockKind = 'secat' | AblationBlockKind;

/** Every decoder block kind: `'secat'`, then the ablations. */
export const DECODER_BLOCK_KINDS: readonly DecoderBlockKind[] = ['secat', ...ABLATION_BLOCK_KINDS];

/** Each ablation as a strategy of the one bottleneck (see `bottleneck.ts`). */
const STRATEGIES: Record<AblationBlockKind, BottleneckStrategy> = {
  resnext: { excitation: 'none', norm: 'batch-norm', tagConcat: 'none', residual: true, weightOrder: 'interleaved' },
  'se-resnext': { excitation: 'se', norm: 'batch-norm', tagConcat: 'none', residual: true, weightOrder: 'interleaved' },
  'concat-front': { excitation: 'se', norm: 'batch-norm', tagConcat: 'front', residual: true, weightOrder: 'convs-first' },
  'concat-all': { excitation: 'se', norm: 'batch-norm', tagConcat: 'all', residual: true, weightOrder: 'convs-first' },
  adain: { excitation: 'none', norm: 'adain', tagConcat: 'none', residual: false, weightOrder: 'convs-first' },
};

/** Whether a kind of decoder block takes the tag vector as a second input. */
export function decoderBlockTakesTag(kind: DecoderBlockKind): boolean {
  return kind === 'secat' || readsTag(STRATEGIES[kind]);
}

/** Arguments of {@link AblationDecoderBlock}: those of a PixelShuffle decoder block, and which block. */
export interface AblationDecoderBlockArgs extends PixelShuffleDecoderBlockArgs {
  /** Which block of the paper's Figure 11. */
  block: AblationBlockKind;
  /** BatchNorm in the bottlenecks (all kinds but `'adain'`, which has none). Default true. */
  batchNorm?: boolean;
}

function variant(block: AblationBlockKind): DecoderBlockVariant {
  checkOneOf('AblationDecoderBlock', 'block', block, ABLATION_BLOCK_KINDS);
  return {
    owner: `AblationDecoderBlock '${block}'`,
    strategy: STRATEGIES[block],
    // GD_senet's keys start with a digit ('0.<i>'), which tfjs-layers misreads when it is a saved
    // model's first weight name: the weights are named 'layer.<i>' (see torchParams).
    bottleneckKey: (i) => (block === 'se-resnext' ? `layer.${i}` : `secat_layer.${i}`),
  };
}

/**
 * A decoder block of one of the paper's ablation generators: `blocks` bottlenecks of the chosen
 * kind, then PixelShuffle. `[N, H, W, C]` (and the tag `[N, d]` for the kinds that use it) →
 * `[N, 2H, 2W, filters / 4]`. It is {@link PixelShuffleDecoderBlock} with another bottleneck
 * strategy, so every option (`recompute`, `batchNormMode`, …) works the same.
 *
 * PyTorch keys follow the official ablation code: `secat_layer.<i>.*` for `'resnext'`,
 * `'concat-front'`, `'concat-all'` and `'adain'` (AdaIN weights as
 * `adain<k>.style.linear.weight_orig` / `.bias`), and `0.<i>.*` for `'se-resnext'`
 * (`GD_senet.py` builds `Sequential(layer, PixelShuffle)`).
 */
export class AblationDecoderBlock extends PixelShuffleDecoderBlock {
  static override readonly className = 'AblationDecoderBlock';
  readonly block: AblationBlockKind;

  constructor(args: AblationDecoderBlockArgs) {
    super(args, variant(args.block));
    this.block = args.block;
  }

  override torchParams(): TorchParam[] {
    if (this.block !== 'se-resnext') return super.torchParams();
    return super.torchParams().map((p) => ({ ...p, key: p.key.replace(/^layer\./, '0.') }));
  }

  override torchIgnoredKeys(): string[] {
    if (this.block !== 'se-resnext') return super.torchIgnoredKeys();
    return super.torchIgnoredKeys().map((k) => k.replace(/^layer\./, '0.'));
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), block: this.block };
  }
}
serialization.registerClass(AblationDecoderBlock, 'tag2pix');
