// Builds the demo page, serves it on loopback and drives Debian's Chromium through
// playwright-core. Never downloads a browser: it uses /usr/bin/chromium or fails saying how
// to install it.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { repoRoot } from './browser_bundle.js';

export const CHROMIUM = '/usr/bin/chromium';
export const outputDir = join(repoRoot, 'test-output', 'web');
const configFile = join(repoRoot, 'examples', 'web', 'vite.config.ts');

/** Fails with the install instruction when Debian's Chromium is missing. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser test needs Debian's Chromium at ${CHROMIUM}, which is missing. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (as root). The test never downloads a browser.',
    );
  }
}

/**
 * Builds the page (what `vite build` would publish) into test-output/web/<name>; each test file
 * uses its own folder, since vitest runs test files in parallel.
 */
export async function buildPage(name: string): Promise<string> {
  const outDir = join(outputDir, name);
  await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

/** Serves a built page on 127.0.0.1 at a free port. */
export async function servePage(outDir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: PreviewServer = await preview({
    configFile,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('The preview server has no TCP address.');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

/**
 * Launches headless Chromium with a fresh profile; closing the context removes the profile.
 * `webgpu: true` turns on WebGPU, which headless Chromium offers on SwiftShader, its software
 * Vulkan (no GPU needed).
 */
export async function launchChromium(
  options: { webgpu?: boolean } = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  requireChromium();
  await mkdir(outputDir, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'tag2pix-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      ...(options.webgpu ? ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'] : ['--disable-gpu']),
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1100, height: 900 },
    acceptDownloads: true,
  });
  // The whole suite shares 2 cores: allow slow steps rather than fail on them.
  context.setDefaultTimeout(90_000);
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A built page served on loopback, and a headless Chromium to open it in. */
export interface PageSession {
  /** The server's address, ending in `/`. */
  url: string;
  context: BrowserContext;
  /** Closes the browser, then the server. */
  close: () => Promise<void>;
}

/**
 * Builds page `name` ({@link buildPage}), serves it ({@link servePage}) and launches Chromium
 * ({@link launchChromium}): the setup every page test shares. Closes the server again when the
 * browser cannot start.
 */
export async function startPageSession(name: string, options: { webgpu?: boolean } = {}): Promise<PageSession> {
  const server = await servePage(await buildPage(name));
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  try {
    browser = await launchChromium(options);
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    url: server.url,
    context: browser.context,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
