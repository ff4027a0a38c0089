/** The two configurations the benchmark measures (issue 7). */
export interface ModelSpec {
  /** Line-art side. */
  size: number;
  /** Bottlenecks in deconv1..4. */
  layers: [number, number, number, number];
  /** Batch of a colourisation. */
  colorizeBatch: number;
  /**
   * Batch of a training iteration. The 256 px model trains with 2: BatchNorm in training mode
   * needs two samples in our trainer (PyTorch runs batch 1 on spatial statistics alone), and
   * PyTorch is measured with the same batch.
   */
  trainBatch: number;
}

export const MODELS = {
  '256': { size: 256, layers: [12, 8, 5, 5], colorizeBatch: 1, trainBatch: 2 },
  small: { size: 64, layers: [2, 2, 2, 2], colorizeBatch: 4, trainBatch: 4 },
} satisfies Record<string, ModelSpec>;

export type ModelName = keyof typeof MODELS;
