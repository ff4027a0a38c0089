import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isTorchMapped } from '../layers/torch_layer.js';

const BUFFER_SUFFIXES = ['.running_mean', '.running_var', 'running_mean', 'running_var'];

/**
 * Number of parameters as PyTorch counts them (`sum(p.numel() for p in m.parameters())`):
 * every weight except BatchNorm running statistics, which PyTorch keeps as buffers, and
 * regardless of whether the weights are frozen. (`model.countParams()` counts the running
 * statistics too.)
 */
export function countParameters(model: LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    if (isTorchMapped(layer)) {
      for (const p of layer.torchParams()) {
        if (BUFFER_SUFFIXES.some((s) => p.key.endsWith(s))) continue;
        total += p.variable.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      }
      continue;
    }
    for (const w of layer.weights) {
      if (/moving_(mean|variance)$/.test(w.originalName)) continue;
      total += w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    }
  }
  return total;
}
