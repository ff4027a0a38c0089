// The package as npm users get it: build, `npm pack`, install the tarball into fresh ES-module,
// CommonJS and TypeScript apps (offline, from npm's cache; see apps.ts) and use it from each,
// the Node entry and the `tag2pix` bin included. Runs in `npm run test:system` (project
// `package`): it builds the package (about a minute) and installs three apps.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inApp, installApp, repoRoot } from './apps.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-consumer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Packed {
  filename: string;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}
let packed: Packed;
let tarball: string;
const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(() => {
  execFileSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: repoRoot, encoding: 'utf8' });
  packed = (JSON.parse(out) as Packed[])[0]!;
  tarball = path.join(work, packed.filename);
}, 600_000);

const ENTRIES = ['tag2pix', 'tag2pix/data', 'tag2pix/synth', 'tag2pix/eval', 'tag2pix/io', 'tag2pix/training', 'tag2pix/node'];

/** The JSON line a script printed last (tfjs prints its own advice before it on cpu). */
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

/** Width and height from a PNG's IHDR. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('the tarball', () => {
  it('holds the build, README, LICENSE, docs and the export tool; no tests, fixtures or sources', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('tools/export_torch_checkpoint.py');
    for (const name of ['index', 'data', 'synth', 'eval', 'io', 'training', 'node']) {
      for (const ext of ['.js', '.cjs', '.node.mjs', '.d.ts', '.d.cts']) expect(files).toContain(`dist/${name}${ext}`);
    }
    expect(files).toContain('dist/cli.js');
    const stray = files.filter((f) => /^(test|src|bench|examples|\.ci)\//.test(f) || /fixtures|\.safetensors$|\.test\./.test(f));
    expect(stray).toEqual([]);
    // Small: under 8 MB unpacked (the figure is in the closing note of #16; tfjs-core alone is 40 MB).
    expect(packed.unpackedSize).toBeLessThan(8_000_000);
  });
});

describe('an ES-module app', () => {
  const app = path.join(work, 'esm');
  beforeAll(() => {
    installApp(app, tarball, {
      type: 'module',
      dependencies: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'sharp'],
      files: {
        'app.js': `
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
${ENTRIES.map((e, i) => `import * as entry${i} from '${e}';`).join('\n')}
const [core, , , , io, , node] = [${ENTRIES.map((_, i) => `entry${i}`).join(', ')}];
const require = createRequire(import.meta.url);

const report = await node.initBackend();
const block = new core.SEResNeXtBottleneck({ filters: 128, excitation: 'secat' });
const out = block.apply([tf.randomNormal([2, 16, 16, 96]), tf.randomUniform([2, 64])]);
const generator = core.buildTag2PixGenerator({ inputSize: 64, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1], citFeatures: false });
writeFileSync('generator.safetensors', io.writeSafetensors(core.exportTorchStateDict(generator)));
await node.writePng('line.png', tf.ones([40, 48, 1]));
console.log(JSON.stringify({
  backend: report.backend,
  shape: out.shape,
  params: block.countParams(),
  exports: [${ENTRIES.map((_, i) => `Object.keys(entry${i}).length`).join(', ')}],
  requireSameSECat: require('tag2pix').SECat === core.SECat,
  requireSameInitBackend: require('tag2pix/node').initBackend === node.initBackend,
  registeredSECat: tf.serialization.SerializationMap.getMap().classNameMap.SECat[0] === core.SECat,
  kernelsRegisteredAgain: require('tag2pix').registerFastKernels(),
  fastKernel: require('tag2pix').isFastKernel('Conv2DBackpropFilter', report.backend),
}));
`,
        // Node's import goes through ES-module wrappers over the CommonJS build: every name of the
        // ES build must arrive. (Its own process: loading the ES build too makes a second copy.)
        'names.js': `
const names = (m) => Object.keys(m).filter((k) => k !== 'default').sort();
const out = {};
for (const [specifier, file] of ${JSON.stringify(ENTRIES.map((e, i) => [e, ['index', 'data', 'synth', 'eval', 'io', 'training', 'node'][i]]))}) {
  const viaWrapper = names(await import(specifier));
  const esBuild = names(await import(new URL('./node_modules/tag2pix/dist/' + file + '.js', import.meta.url).href));
  out[specifier] = { missing: esBuild.filter((n) => !viaWrapper.includes(n)), extra: viaWrapper.filter((n) => !esBuild.includes(n)), count: esBuild.length };
}
console.log(JSON.stringify(out));
`,
      },
    });
  }, 300_000);

  it("gives Node's import every name of the ES build, through the wrappers over the CommonJS build", () => {
    const result = lastJson(inApp(app, 'node', ['names.js'])) as Record<string, { missing: string[]; extra: string[]; count: number }>;
    expect(Object.keys(result)).toEqual(ENTRIES);
    for (const [entry, { missing, extra, count }] of Object.entries(result)) {
      expect({ entry, missing, extra }).toEqual({ entry, missing: [], extra: [] });
      expect(count, entry).toBeGreaterThan(5);
    }
  });

  it('has one copy of tfjs-core and no unmet dependency (npm ls)', () => {
    const copies = inApp(app, 'npm', ['ls', '@tensorflow/tfjs-core', '--all', '--parseable']).trim().split('\n');
    expect(copies).toEqual([path.join(app, 'node_modules/@tensorflow/tfjs-core')]);
    inApp(app, 'npm', ['ls', '--all']); // exits non-zero on a missing or invalid dependency
  });

  it('imports every entry and runs a layer; require() in the same process gets the same library', () => {
    const result = lastJson(inApp(app, 'node', ['app.js']));
    expect(result['backend']).toBe('wasm');
    expect(result['shape']).toEqual([2, 16, 16, 128]);
    expect(result['params']).toBe(23872);
    expect((result['exports'] as number[]).every((n) => n > 5)).toBe(true);
    expect(result['requireSameSECat']).toBe(true);
    expect(result['requireSameInitBackend']).toBe(true);
    expect(result['registeredSECat']).toBe(true);
    // initBackend registered the kernels; the required copy is the same one, so it finds them all.
    expect(result['kernelsRegisteredAgain']).toEqual([]);
    expect(result['fastKernel']).toBe(true);
  });

  it('gives bundlers the ES modules, for import and require alike (one copy in a bundle)', async () => {
    const esbuild = await import('esbuild');
    writeFileSync(
      path.join(app, 'bundled.js'),
      "import { SECat } from 'tag2pix';\nimport { readSafetensors } from 'tag2pix/io';\nconst required = require('tag2pix');\nexport const same = [required.SECat === SECat, readSafetensors];\n",
    );
    const result = await esbuild.build({
      entryPoints: ['bundled.js'],
      absWorkingDir: app,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      external: ['@tensorflow/*', 'fflate'],
    });
    const ours = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('node_modules/tag2pix/'));
    expect(ours).toContain('node_modules/tag2pix/dist/index.js');
    expect(ours.filter((f) => !f.endsWith('.js') || f.endsWith('.node.mjs'))).toEqual([]);
  });

  it('runs the tag2pix bin: --version, tags, colorize (global --backend)', () => {
    const bin = path.join(app, 'node_modules/.bin/tag2pix');
    expect(inApp(app, bin, ['--version']).trim()).toBe(version);
    expect(inApp(app, bin, ['tags', '--filter', 'hair'])).toContain('blue_hair');
    inApp(app, bin, ['--backend', 'cpu', 'colorize', 'line.png', '--tags', 'blue_hair,red_eyes', '--weights', 'generator.safetensors', '--out', 'out.png']);
    expect(pngSize(path.join(app, 'out.png'))).toEqual({ width: 48, height: 40 });
  });
});

describe('a CommonJS app', () => {
  const app = path.join(work, 'cjs');
  beforeAll(() => {
    installApp(app, tarball, {
      type: 'commonjs',
      dependencies: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'sharp'],
      files: {
        'app.js': `
const tf = require('@tensorflow/tfjs-core');
const entries = [${ENTRIES.map((e) => `require('${e}')`).join(', ')}];
const [core, , , , io, , node] = entries;
async function main() {
  const report = await node.initBackend('cpu');
  const registeredSECat = tf.serialization.SerializationMap.getMap().classNameMap.SECat[0] === core.SECat;
  const kernelsRegisteredAgain = core.registerFastKernels();
  const imported = await import('tag2pix');
  const importedNode = await import('tag2pix/node');
  const generator = core.buildTag2PixGenerator({ inputSize: 64, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1], citFeatures: false });
  require('node:fs').writeFileSync('generator.safetensors', io.writeSafetensors(core.exportTorchStateDict(generator)));
  await node.writePng('line.png', tf.ones([30, 20, 1]));
  const colorizer = await node.loadColorizer('generator.safetensors');
  const png = await node.colorizeToPng({ lineArt: 'line.png', tags: ['blue_hair'], generator: colorizer.generator });
  require('node:fs').writeFileSync('out.png', png);
  colorizer.dispose();
  generator.dispose();
  // The error classes are one copy too: an error raised in one entry is an instance of the
  // classes every other entry (and import()) exports.
  require('node:fs').writeFileSync('not-weights.safetensors', 'no weights here');
  const failure = await node.loadColorizer('not-weights.safetensors').catch((e) => e);
  const fromIo = await io.loadColorizer([{ name: 'x.bin', bytes: new Uint8Array(4) }]).catch((e) => e);
  const badImage = await node.readImage('not-weights.safetensors').catch((e) => e);
  const errorClasses = {
    sameClass: core.Tag2PixError === io.Tag2PixError && core.FileFormatError === io.FileFormatError && imported.WeightsError === core.WeightsError,
    nodeErrorIsCore: failure instanceof core.Tag2PixError && failure instanceof io.FileFormatError && failure instanceof imported.Tag2PixError,
    ioErrorIsCore: fromIo instanceof core.FileFormatError && fromIo instanceof imported.FileFormatError,
    imageErrorIsCore: badImage instanceof node.ImageReadError && badImage instanceof core.Tag2PixError && badImage instanceof imported.Tag2PixError,
    names: [failure.name, fromIo.name, badImage.name],
    file: failure.file,
  };
  console.log(JSON.stringify({
    errorClasses,
    backend: report.backend,
    exports: entries.map((e) => Object.keys(e).length),
    registeredSECat,
    kernelsRegisteredAgain,
    importSameSECat: imported.SECat === core.SECat,
    importSameLoader: importedNode.loadColorizer === node.loadColorizer,
    config: colorizer.config.inputSize,
  }));
}
main().catch((err) => { console.error(err); process.exit(1); });
`,
      },
    });
  }, 300_000);

  it('requires every entry (one copy of the library, its error classes included) and mixes in import(); colourises a file', () => {
    const result = lastJson(inApp(app, 'node', ['app.js']));
    expect(result['backend']).toBe('cpu');
    expect((result['exports'] as number[]).every((n) => n > 5)).toBe(true);
    // tag2pix/node loaded after tag2pix registered no second SECat class, no second set of kernels.
    expect(result['registeredSECat']).toBe(true);
    expect(result['kernelsRegisteredAgain']).toEqual([]);
    expect(result['importSameSECat']).toBe(true);
    expect(result['importSameLoader']).toBe(true);
    expect(result['config']).toBe(64);
    expect(pngSize(path.join(app, 'out.png'))).toEqual({ width: 20, height: 30 });
    // Errors raised by tag2pix/node and tag2pix/io are instances of tag2pix's classes, required or imported.
    expect(result['errorClasses']).toEqual({
      sameClass: true,
      nodeErrorIsCore: true,
      ioErrorIsCore: true,
      imageErrorIsCore: true,
      names: ['FileFormatError', 'FileFormatError', 'ImageReadError'],
      file: 'not-weights.safetensors',
    });
  });
});

describe('a TypeScript app (strict, skipLibCheck false), without the optional sharp', () => {
  const app = path.join(work, 'ts');
  const uses = `
const block = new PixelShuffleDecoderBlock({ filters: 128, blocks: 5, name: 'deconv4' });
// @ts-expect-error filters is a number: the declarations are real types, not any
const wrong = () => new PixelShuffleDecoderBlock({ filters: '128', blocks: 5 });
const layer: SECat = new SECat({ reduction: 4 });
const vocabulary: TagVocabulary = defaultVocabulary();
const bytes: Uint8Array = writeSafetensors({ x: tf.zeros([2]) });
const rng = new Rng(1, 2);
const config: Tag2PixGeneratorConfig = inferGeneratorConfig(exportTorchStateDict(buildTag2PixGenerator({ inputSize: 64, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1], citFeatures: false })));
const sample = [...synthCharacters(1, { size: 32, seed: 3 })];
const lab: [number, number, number] = srgbToLab([1, 0, 0]);
const trainer: typeof Tag2PixTrainer = Tag2PixTrainer;
void wrong;
`;
  const imports = (style: 'esm' | 'cjs') => {
    const named: Array<[string, string]> = [
      ['tag2pix', 'PixelShuffleDecoderBlock, SECat, TagVocabulary, defaultVocabulary, exportTorchStateDict, buildTag2PixGenerator, type Tag2PixGeneratorConfig'],
      ['tag2pix/io', 'writeSafetensors'],
      ['tag2pix/data', 'Rng'],
      ['tag2pix/synth', 'synthCharacters'],
      ['tag2pix/eval', 'srgbToLab'],
      ['tag2pix/training', 'Tag2PixTrainer'],
      ['tag2pix/node', 'initBackend, inferGeneratorConfig, readImage'],
    ];
    const tf = style === 'esm' ? `import * as tf from '@tensorflow/tfjs-core';` : `import tf = require('@tensorflow/tfjs-core');`;
    return [tf, ...named.map(([from, names]) => `import { ${names} } from '${from}';`)].join('\n');
  };
  const main = (style: 'esm' | 'cjs') => `
${imports(style)}
async function main(): Promise<void> {
  const report = await initBackend('cpu');
${uses}
  const missing = await readImage('line.png').then(() => 'read', (err: Error) => err.message);
  console.log(JSON.stringify({ style: '${style}', backend: report.backend, name: block.name, reduction: layer.reduction, numCvt: vocabulary.numCvt, bytes: bytes.length > 0, draw: rng.next() >= 0, inputSize: config.inputSize, samples: sample.length, lab: lab.length, trainer: typeof trainer, missing }));
}
void main();
`;
  beforeAll(() => {
    const compilerOptions = { strict: true, skipLibCheck: false, target: 'es2022', types: ['node'], outDir: 'out' };
    installApp(app, tarball, {
      type: 'module',
      dependencies: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'typescript', '@types/node'],
      files: {
        'src/app.mts': main('esm'),
        'src/app.cts': main('cjs'),
        'bundler/app.ts': main('esm'),
        'tsconfig.node16.json': JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'node16', moduleResolution: 'node16' }, include: ['src'] }),
        'tsconfig.bundler.json': JSON.stringify({
          compilerOptions: { ...compilerOptions, module: 'esnext', moduleResolution: 'bundler', noEmit: true },
          include: ['bundler'],
        }),
      },
    });
  }, 300_000);

  /** tsc's errors, except those inside tfjs's own declarations (which skipLibCheck: false also reports). */
  function typeErrors(project: string): string[] {
    let output = '';
    try {
      output = inApp(app, 'node', ['node_modules/typescript/bin/tsc', '-p', project]);
    } catch (err) {
      output = (err as Error).message;
    }
    const errors = output.split('\n').filter((l) => /error TS\d+/.test(l));
    return errors.filter((l) => !l.startsWith('node_modules/@tensorflow/'));
  }

  it('typechecks under moduleResolution node16 (.mts and .cts) and runs the output', () => {
    expect(typeErrors('tsconfig.node16.json')).toEqual([]);
    for (const file of ['out/app.mjs', 'out/app.cjs']) {
      const result = lastJson(inApp(app, 'node', [file]));
      expect(result).toMatchObject({ backend: 'cpu', name: 'deconv4', reduction: 4, numCvt: 115, bytes: true, draw: true, inputSize: 64, samples: 1, lab: 3, trainer: 'function' });
      // sharp is an optional peer this app did not install: the image function says how to fix it.
      expect(result['missing']).toBe("readImage needs the optional package 'sharp' (image decoding and encoding in Node), which is not installed. Install it beside tag2pix: npm install sharp");
    }
    expect(existsSync(path.join(app, 'node_modules/sharp'))).toBe(false);
  });

  it('typechecks under moduleResolution bundler', () => {
    expect(typeErrors('tsconfig.bundler.json')).toEqual([]);
  });

  it('reports an error in our declarations when there is one (the check can fail)', () => {
    const broken = path.join(app, 'node_modules/tag2pix/dist/io.d.ts');
    const text = readFileSync(broken, 'utf8');
    try {
      appendFileSync(broken, `import type { Nope } from './no-such-file.js';\nexport type Broken = Nope;\n`);
      expect(typeErrors('tsconfig.bundler.json').some((l) => l.startsWith('node_modules/tag2pix/dist/io.d.ts'))).toBe(true);
    } finally {
      writeFileSync(broken, text);
    }
  });
});
