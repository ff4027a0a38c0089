import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';
import { checkPositiveIntegers, nhwcChannels, nhwcOutputShape, singleShape, singleTensor } from './checks.js';
import {
  TorchLayer,
  applyConv,
  type ConvParams,
  type Kwargs,
  type LayerArgs,
} from './torch_layer.js';

/** Arguments of {@link GroupedConv2D}. */
export interface GroupedConv2DArgs extends LayerArgs {
  /** Number of output channels. Must be divisible by `groups`. */
  filters: number;
  /** Side of the square kernel. */
  kernelSize: number;
  /** Stride along height and width. Default 1. */
  strides?: number;
  /**
   * Zero padding added symmetrically on every side, as PyTorch's `padding`. Default 0.
   * (A stride-2, padding-1 convolution here equals PyTorch's, which TF's `'same'` does not.)
   */
  padding?: number;
  /**
   * Number of channel groups: input and output channels are split into this many contiguous
   * ranges and group g only sees input range g. Default 1 (an ordinary convolution).
   */
  groups?: number;
  /** Whether to add a bias. Default true, as PyTorch's `nn.Conv2d`. */
  useBias?: boolean;
}

/**
 * 2-D convolution with channel groups and PyTorch's padding, for NHWC inputs.
 *
 * TensorFlow.js has no grouped convolution (tfjs-layers' `conv2d` silently ignores `groups`).
 * The kernel is `[k, k, inChannels / groups, filters]`, so each group's weights are really
 * separate; its PyTorch key is `weight` (and `bias`).
 */
export class GroupedConv2D extends TorchLayer {
  static readonly className = 'GroupedConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: number;
  readonly groups: number;
  readonly useBias: boolean;
  private conv?: ConvParams;

  constructor(args: GroupedConv2DArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 0;
    this.groups = args.groups ?? 1;
    this.useBias = args.useBias ?? true;
    checkPositiveIntegers('GroupedConv2D', {
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      groups: this.groups,
    });
    if (!Number.isInteger(this.padding) || this.padding < 0) {
      throw new Error(`GroupedConv2D: padding must be a non-negative integer, got ${this.padding}.`);
    }
    if (this.filters % this.groups !== 0) {
      throw new Error(
        `GroupedConv2D: filters (${this.filters}) must be divisible by groups (${this.groups}).`,
      );
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const inChannels = nhwcChannels('GroupedConv2D', singleShape(inputShape));
    if (inChannels % this.groups !== 0) {
      throw new Error(
        `GroupedConv2D: input channels (${inChannels}) must be divisible by groups (${this.groups}).`,
      );
    }
    this.conv = this.addConv('', {
      inChannels,
      outChannels: this.filters,
      kernelSize: this.kernelSize,
      stride: this.strides,
      padding: this.padding,
      groups: this.groups,
      bias: this.useBias,
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const out = (size: number) => Math.floor((size + 2 * this.padding - this.kernelSize) / this.strides) + 1;
    return nhwcOutputShape(singleShape(inputShape), out, this.filters);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return applyConv(this.conv!, singleTensor<tf.Tensor4D>(inputs));
  }

  override getConfig(): serialization.ConfigDict {
    return this.configOf('filters', 'kernelSize', 'strides', 'padding', 'groups', 'useBias');
  }
}
serialization.registerClass(GroupedConv2D, 'tag2pix');
