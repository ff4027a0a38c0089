import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, flagNamer, nameOptions } from '../../src/cli/errors.js';
import { LimitError, OptionError, Tag2PixError } from '../../src/errors.js';
import { pngWithHeader } from '../helpers/torch_files.js';

// The command line on bad input: one line `tag2pix: …` naming the file and the flag (then a
// hint where there is one), exit code 1, no stack, and nothing read or written that the error
// could have spared. Every file here is made by the test.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'index.ts');
const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI, which must fail; returns its stderr lines. */
async function fails(args: string[]): Promise<string[]> {
  const result = await run(TSX, [CLI, ...args], { env: { ...process.env, TAG2PIX_BACKEND: 'cpu' }, cwd: dir }).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  expect(result, `tag2pix ${args.join(' ')} succeeded`).toBeDefined();
  expect(result!.code).toBe(1);
  expect(result!.stderr).not.toMatch(/\n\s+at /); // no stack trace
  // The train command's notice about the slow cpu backend is not part of the error.
  return result!.stderr.split('\n').filter((l) => l !== '' && !l.includes('training on the cpu backend is slow'));
}

let lineArt: string;
let weights: string;
beforeAll(async () => {
  lineArt = path.join(dir, 'same.png');
  await sharp({ create: { width: 40, height: 30, channels: 3, background: '#fff' } }).png().toFile(lineArt);
  // Not weights at all: the checks below must fail before anything reads them.
  weights = path.join(dir, 'weights.safetensors');
  fs.writeFileSync(weights, 'not weights');
});

describe('flagNamer and errorLines', () => {
  const command = new Command('colorize')
    .option('--max-pixels <n>')
    .option('--overwrite')
    .option('--no-cit')
    .option('--cit-weights <file>');
  nameOptions(command, { lineArt: '<lineart>', learningRate: '--lr' });

  it('names API options by the flags of the command that ran', () => {
    const name = flagNamer(command);
    expect(['maxPixels', 'overwrite=true', 'cit=false', 'citWeights', 'lineArt', 'learningRate', 'unknownThing'].map(name)).toEqual([
      '--max-pixels',
      '--overwrite',
      '--no-cit',
      '--cit-weights',
      '<lineart>',
      '--lr',
      'unknownThing',
    ]);
  });

  it('prints one line per error, then its hint; anything else by its first line only', () => {
    const err = new OptionError((n) => `${n('maxPixels')} is too small;\nreally.`, { hint: 'How to:\n  step 1' });
    expect(err.message).toBe('maxPixels is too small;\nreally.\nHow to:\n  step 1');
    expect(errorLines(err, command)).toEqual(['tag2pix: --max-pixels is too small; really.', 'How to:', '  step 1']);
    expect(errorLines(new Error('boom\n  at somewhere'), command)).toEqual(['tag2pix: boom (TAG2PIX_DEBUG=1 for details)']);
    const long = new LimitError('x'.repeat(5000));
    expect(errorLines(long, command)[0]!.length).toBeLessThan(2100);
    expect(long.message).toMatch(/… \(3\d{3} more characters\)$/);
    expect(long).toBeInstanceOf(Tag2PixError);
  });
});

describe('tag2pix on bad input (issue 17)', () => {
  it('colorize: empty tags, a folder, an over-limit image, --out onto the input or a folder, all before the weights are read', async () => {
    const folder = path.join(dir, 'folder.png');
    fs.mkdirSync(folder);
    const bomb = path.join(dir, 'bomb.png');
    fs.writeFileSync(bomb, pngWithHeader(16000, 16000));
    fs.symlinkSync(lineArt, path.join(dir, 'same-link.png'));
    const before = fs.readFileSync(lineArt);
    const cases: Array<[string[], RegExp]> = [
      [[lineArt, '--tags', '', '--weights', weights], /^tag2pix: --tags names no tag; give at least one colour tag/],
      [[lineArt, '--tags', ',,,', '--weights', weights], /^tag2pix: --tags names no tag \(',,,' holds only separators\)/],
      [[lineArt, '--tags', 'blue_hair,red_hair', '--weights', weights], /^tag2pix: --tags asks for 2 hair colours at once/],
      [[lineArt, '--tags', 'blue_hair\x01', '--weights', weights], /^tag2pix: --tags 'blue_hair\\u0001' contains a control or invisible character \(U\+0001\)/],
      [[folder, '--tags', 'blue_hair', '--weights', weights], /^tag2pix: '.*folder\.png' is a folder, not an image file/],
      [[bomb, '--tags', 'blue_hair', '--weights', weights], /^tag2pix: Image '.*bomb\.png' is 16000×16000 = 256\.0 Mpx, above the limit .* raise the limit with --max-pixels 256000000/],
      [[lineArt, '--tags', 'blue_hair', '--weights', weights, '--out', lineArt, '--overwrite'], /^tag2pix: --out '.*same\.png' is the input '.*same\.png'; writing it would destroy the input\. Choose another --out\./],
      [[lineArt, '--tags', 'blue_hair', '--weights', weights, '--out', path.join(dir, 'same-link.png')], /^tag2pix: --out '.*same-link\.png' is the input .*\(the same file by another path\)/],
      [[lineArt, '--tags', 'blue_hair', '--weights', weights, '--out', dir], /^tag2pix: --out '.*' is a folder; give a file name/],
      [[lineArt, '--tags', 'blue_hair', '--weights', weights, '--out', weights], /^tag2pix: --out '.*weights\.safetensors' is the input/],
      [[lineArt, '--tags', 'blue_hair', '--weights', weights, '--out', path.join(dir, 'new.png')], /^tag2pix: Weight file '.*weights\.safetensors': .*safetensors: /],
      [[lineArt, '--tags', 'blue_hair', '--weights', weights, '--max-pixels', 'lots'], /^tag2pix: --max-pixels must be a pixel count such as 67108864 or 8192x8192, got 'lots'\./],
    ];
    const results = await Promise.all(cases.map(([args]) => fails(['colorize', ...args])));
    results.forEach((lines, i) => {
      expect(lines[0], cases[i]![0].join(' ')).toMatch(cases[i]![1]);
      expect(lines).toHaveLength(1);
    });
    expect(fs.readFileSync(lineArt)).toEqual(before);
    // The over-limit image passes with the limit raised: then the (fake) weights are what fails.
    const raised = await fails(['colorize', bomb, '--tags', 'blue_hair', '--weights', weights, '--max-pixels', '16000x16000', '--out', path.join(dir, 'b.png')]);
    expect(raised[0]).toMatch(/^tag2pix: Weight file/);
  });

  it('train, synth and extract-lineart name their flags and files', async () => {
    const outFile = path.join(dir, 'run-file');
    fs.writeFileSync(outFile, 'x');
    const color = path.join(dir, 'exl');
    fs.mkdirSync(color);
    fs.copyFileSync(lineArt, path.join(color, 'a.png'));
    fs.symlinkSync(color, path.join(dir, 'exl_link'));
    const cases: Array<[string[], RegExp, number]> = [
      [['train', '--data', dir, '--out', outFile, '--no-cit'], /^tag2pix: --out '.*run-file' is a file, not a run folder; choose a folder name\.$/, 1],
      [['train', '--data', dir, '--out', path.join(dir, 'r1'), '--no-cit', '--width-multiplier', '0.001'], /^tag2pix: --width-multiplier must be from 0\.0625 to 4 .*got '0\.001'\./, 1],
      [['train', '--data', dir, '--out', path.join(dir, 'r2')], /^tag2pix: the CIT feature path needs the pretrained CIT extractor: pass --cit-weights <model\.pth or \.safetensors>, or --no-cit to train/, 10],
      [['train', '--data', path.join(dir, 'nowhere'), '--out', path.join(dir, 'r3'), '--no-cit'], /^tag2pix: Dataset '.*nowhere' \(--data\) does not exist/, 1],
      [['synth', '--seed', 'abc', '--out', path.join(dir, 's')], /^tag2pix: --seed must be an integer >= 0, got 'abc'\.$/, 1],
      [['synth', '--count', '1e400', '--out', path.join(dir, 's')], /^tag2pix: --count must be a positive integer, got '1e400'\.$/, 1],
      [['extract-lineart', color, path.join(dir, 'exl_link'), '--overwrite'], /^tag2pix: <out> '.*exl_link' is the input folder '.*exl' \(by another path\); the line arts would replace the colour images\. Choose another <out>\.$/, 1],
    ];
    const results = await Promise.all(cases.map(([args]) => fails(args)));
    results.forEach((lines, i) => {
      expect(lines[0], cases[i]![0].join(' ')).toMatch(cases[i]![1]);
      expect(lines, cases[i]![0].join(' ')).toHaveLength(cases[i]![2]); // the error, then its hint if any
    });
    expect(fs.readFileSync(outFile, 'utf8')).toBe('x');
    expect(fs.readdirSync(color)).toEqual(['a.png']);
    expect(fs.existsSync(path.join(dir, 's'))).toBe(false);
  });
});
