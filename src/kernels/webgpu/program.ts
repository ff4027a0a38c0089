import type * as tf from '@tensorflow/tfjs-core';

/*
 * A WebGPU compute program of this library, in the form tfjs-backend-webgpu runs
 * (`WebGPUBackend.runWebGPUProgram`). The backend adds the bindings (`result` for the output,
 * one read-only `array<f32>` per input name), its uniforms and `getGlobalIndex()`, and calls our
 * `fn main(index : i32)` once per invocation with the flat invocation index. Sizes are baked
 * into the shader as constants (and into its cache key), so indexing needs no uniforms. No
 * import of the webgpu package: the program is a plain object, and the kernel runs only when
 * the active backend is webgpu.
 */

/** The part of tfjs's WebGPUBackend that runs a program. */
interface WebGPUBackendLike {
  runWebGPUProgram(
    program: object,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms?: Array<{ type: 'float32'; data: number[] }>,
  ): tf.TensorInfo;
}

/** What a program computes and how many invocations it needs. */
export interface ProgramSpec {
  /** Names the shader (its cache key is this plus the constants). */
  name: string;
  /** Shape of the float32 output. */
  outputShape: number[];
  /** Inputs, bound in order under {@link ProgramSpec.variableNames}. */
  inputs: tf.TensorInfo[];
  /** WGSL names of the inputs (lower-case identifiers that name no WGSL built-in). */
  variableNames: string[];
  /** Invocations to launch; `main` is called with 0 … invocations − 1 (and must ignore more). */
  invocations: number;
  /** Invocations per workgroup. Default 64. */
  workgroupSize?: number;
  /** Integer constants, declared as `const NAME : i32`. */
  constants: Record<string, number>;
  /** Float constants, declared as `const NAME : f32`. */
  floats?: Record<string, number>;
  /**
   * Floats that change from call to call (a learning rate), read as `uniforms.name` so the
   * compiled shader is reused; constants are for what is fixed per layer.
   */
  uniforms?: Record<string, number>;
  /** WGSL: helper functions and `fn main(index : i32)`. */
  body: string;
}

function declareInt(name: string, value: number): string {
  if (!Number.isInteger(value)) throw new Error(`program constant ${name} must be an integer, got ${value}`);
  return `const ${name} : i32 = ${value};`;
}

/** An f32 literal that parses back to the same float32 as `value`. */
function declareFloat(name: string, value: number): string {
  if (!Number.isFinite(value)) throw new Error(`program constant ${name} must be finite, got ${value}`);
  return `const ${name} : f32 = ${Math.fround(value).toExponential(9)};`;
}

/** Runs a program on the webgpu backend and returns its output. */
export function runProgram(backend: tf.KernelBackend, spec: ProgramSpec): tf.TensorInfo {
  const workgroupSize = spec.workgroupSize ?? 64;
  const constants = Object.entries(spec.constants);
  const floats = Object.entries(spec.floats ?? {});
  const uniforms = Object.entries(spec.uniforms ?? {});
  const program = {
    outputShape: spec.outputShape,
    shaderKey: `tag2pix_${spec.name}_${[...constants, ...floats].map(([k, v]) => `${k}${v}`).join('_')}`,
    dispatchLayout: { x: spec.outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(spec.invocations / workgroupSize), 1, 1] as [number, number, number],
    workgroupSize: [workgroupSize, 1, 1] as [number, number, number],
    variableNames: spec.variableNames,
    uniforms: uniforms.map(([name]) => `${name} : f32,`).join(' '),
    getUserCode: () => [
      ...constants.map(([k, v]) => declareInt(k, v)),
      ...floats.map(([k, v]) => declareFloat(k, v)),
      spec.body.replace('fn main(index : i32)', 'fn programMain(index : i32)'),
      // The backend binds the uniforms and every input whether the shader reads them or not,
      // while a pipeline's automatic layout keeps only the bindings the shader uses.
      `fn main(index : i32) {
        _ = uniforms.NAN;
        ${spec.variableNames.map((name) => `_ = ${name}[0];`).join(' ')}
        programMain(index);
      }`,
    ].join('\n'),
  };
  const data = uniforms.map(([, value]) => ({ type: 'float32' as const, data: [value] }));
  return (backend as unknown as WebGPUBackendLike).runWebGPUProgram(program, spec.inputs, 'float32', data);
}
