import * as tf from '@tensorflow/tfjs-core';

/*
 * WebGPU in Node: the optional `webgpu` package (Dawn's Node bindings, binary inside the
 * package) provides `navigator.gpu`, which `@tensorflow/tfjs-backend-webgpu` runs on. Dawn
 * renders through Vulkan, so a GPU's Vulkan driver (or Mesa's software lavapipe) must be there.
 */

/** The WebGPU adapter the `webgpu` backend runs on. */
export interface WebGPUAdapterReport {
  /** The adapter's own description, e.g. `NVIDIA: 580.159.04 …` or `llvmpipe: Mesa 25.0.7 …`. */
  description: string;
  /** Vendor and architecture as the adapter reports them (e.g. `nvidia`, `mesa` / `software`). */
  vendor: string;
  architecture: string;
  /** True for a CPU that pretends to be a GPU (lavapipe, SwiftShader): correct, but slow. */
  software: boolean;
}

/** What both causes of a failed start need, named in every error. */
export const WEBGPU_HELP =
  'WebGPU in Node needs the optional package `webgpu` (npm install webgpu) and a Vulkan driver: ' +
  "your GPU's (NVIDIA, AMD, Intel), or Mesa's software lavapipe 25 for testing without a GPU " +
  '(Debian bookworm: mesa-vulkan-drivers from bookworm-backports)';

interface AdapterInfoLike {
  description?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}
interface AdapterLike {
  info: AdapterInfoLike;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor: unknown): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface WebGPUModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface BackendModule {
  WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
}

/** Whether an adapter is a software renderer rather than a GPU. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter === true) return true;
  const text = [info.description, info.vendor, info.architecture, info.device].join(' ');
  return /llvmpipe|lavapipe|swiftshader|software/i.test(text);
}

function describeAdapter(info: AdapterInfoLike): WebGPUAdapterReport {
  const description = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ');
  return {
    description: description || 'unnamed adapter',
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    software: isSoftwareAdapter(info),
  };
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/** The adapter the registered `webgpu` backend was made with, once one was. */
let active: WebGPUAdapterReport | undefined;

/** The module whose instance `navigator.gpu` holds. */
let installedFrom: WebGPUModule | undefined;

/** Makes Dawn's `navigator.gpu` and its `GPU*` constants visible where tfjs looks for them. */
function installGlobals(module: WebGPUModule): GpuLike {
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(module.globals)) {
    if (g[name] === undefined) g[name] = value;
  }
  // Node 21+ has a global navigator without gpu; Node 20 has none.
  if (g['navigator'] == null) g['navigator'] = {};
  const navigatorLike = g['navigator'] as { gpu?: GpuLike };
  if (navigatorLike.gpu == null || installedFrom !== module) {
    Object.defineProperty(navigatorLike, 'gpu', { value: module.create([]), configurable: true, enumerable: true });
    installedFrom = module;
  }
  return navigatorLike.gpu!;
}

/** Requests a device with the adapter's own limits (tfjs needs large buffers and workgroups). */
async function requestDevice(adapter: AdapterLike): Promise<unknown> {
  const names = [
    'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup',
  ];
  const requiredLimits = Object.fromEntries(names.map((n) => [n, adapter.limits[n]]));
  const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  return adapter.requestDevice({ requiredFeatures, requiredLimits });
}

/**
 * Starts tfjs's `webgpu` backend in Node on the high-performance adapter. A software adapter is
 * refused unless `allowSoftware` (the automatic choice never takes one: it is slower than wasm).
 * Returns the adapter, or why the backend cannot start.
 */
export async function startWebGPU(
  importModule: (specifier: string) => Promise<unknown>,
  allowSoftware: boolean,
): Promise<{ adapter?: WebGPUAdapterReport; why?: string }> {
  const running = tf.engine().registry['webgpu'] as { adapterInfo?: AdapterInfoLike } | undefined;
  if (running != null) {
    // Already started (by an earlier call, or by the application itself).
    const report = active ?? describeAdapter(running.adapterInfo ?? {});
    if (report.software && !allowSoftware) return { why: softwareWhy(report) };
    const ok = await tf.setBackend('webgpu');
    return ok ? { adapter: report } : { why: `backend 'webgpu' failed to initialise` };
  }
  let module: WebGPUModule;
  try {
    module = (await importModule('webgpu')) as WebGPUModule;
    if (typeof module?.create !== 'function') throw new Error('it does not export create()');
  } catch (err) {
    return { why: `the optional package 'webgpu' does not load (${firstLine(err)})` };
  }
  let adapter: AdapterLike | null;
  try {
    adapter = await installGlobals(module).requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { why: `requesting a WebGPU adapter failed (${firstLine(err)})` };
  }
  if (adapter == null) {
    return { why: 'Dawn found no WebGPU adapter (no Vulkan driver it can use)' };
  }
  const report = describeAdapter(adapter.info);
  if (report.software && !allowSoftware) return { why: softwareWhy(report) };
  let backendModule: BackendModule;
  try {
    backendModule = (await importModule('@tensorflow/tfjs-backend-webgpu')) as BackendModule;
  } catch (err) {
    return { why: `@tensorflow/tfjs-backend-webgpu does not load (${firstLine(err)})` };
  }
  const { WebGPUBackend } = backendModule;
  // The package registers a factory of its own only when navigator.gpu existed at its import;
  // ours uses the adapter checked above.
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  const chosen = adapter;
  tf.registerBackend('webgpu', async () => new WebGPUBackend(await requestDevice(chosen), chosen.info), 3);
  const ok = await tf.setBackend('webgpu');
  if (!ok) return { why: `backend 'webgpu' failed to initialise on ${report.description}` };
  active = report;
  return { adapter: report };
}

function softwareWhy(report: WebGPUAdapterReport): string {
  return (
    `the only WebGPU adapter is a software renderer (${report.description}), slower than wasm; ` +
    'choose it explicitly (--backend webgpu, TAG2PIX_BACKEND=webgpu) to use it anyway'
  );
}
