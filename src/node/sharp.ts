// sharp (libvips) decodes, resizes and encodes images in Node. It is an optional peer dependency:
// about 19 MB of native code that someone who bundles only the browser entries never needs, so
// it is loaded on first use, and its absence is one clear error naming the fix.
import type SharpModule from 'sharp';

/** The `sharp` function. */
export type Sharp = typeof SharpModule;

let loaded: Sharp | undefined;

/** Node's "no such package" (ESM or CommonJS), also when a loader wrapped it as the cause of its own error. */
function isModuleNotFound(err: unknown): boolean {
  for (let e = err, depth = 0; e != null && depth < 5; e = (e as Error).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return true;
  }
  return false;
}

/** Why sharp could not be used, and what to do: the first line says which function needed it. */
export class SharpMissingError extends Error {
  constructor(what: string, cause: unknown) {
    const notInstalled = isModuleNotFound(cause);
    const reason = String((cause as Error)?.message ?? cause).split('\n')[0];
    super(
      notInstalled
        ? `${what} needs the optional package 'sharp' (image decoding and encoding in Node), which is not installed. ` +
            `Install it beside tag2pix: npm install sharp`
        : `${what} needs the package 'sharp', which is installed but does not load (${reason}). ` +
            `Reinstall it for this platform: npm install --force sharp (see https://sharp.pixelplumbing.com/install)`,
      { cause },
    );
    this.name = 'SharpMissingError';
  }
}

/**
 * sharp, imported once. `what` names the function that needs it, for the error when it is
 * missing; `importModule` lets tests stand in for a machine without it.
 */
export async function loadSharp(what: string, importModule?: () => Promise<unknown>): Promise<Sharp> {
  if (loaded && !importModule) return loaded;
  let module: { default?: Sharp };
  try {
    module = (await (importModule ?? (() => import('sharp')))()) as { default?: Sharp };
  } catch (err) {
    throw new SharpMissingError(what, err);
  }
  const sharp = module.default ?? (module as unknown as Sharp);
  if (typeof sharp !== 'function') throw new SharpMissingError(what, new Error("its module has no 'sharp' function"));
  if (!importModule) loaded = sharp;
  return sharp;
}
