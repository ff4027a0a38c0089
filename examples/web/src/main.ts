// The demo page: line art + colour tags + weights → colourised image, all in the browser.
import * as tf from '@tensorflow/tfjs-core';
import { requestedBackend, startBackend, type BackendStart } from './backend.js';
import { decodeLineArt, drawGrey, drawRgb, type GreyImage } from './image.js';
import { colorize, loadWeightFiles, type ColorizeResult, type LoadedModels } from './model.js';
import { TagPicker } from './tag_picker.js';
import { Tag2PixError, defaultVocabulary, type Tag } from 'tag2pix';

/** What the page exposes for scripts and tests (`window.tag2pixDemo`). */
export interface DemoState {
  /** Resolves once a backend runs (rejects when none could start). */
  ready: Promise<BackendStart>;
  backend?: BackendStart;
  lineArt?: GreyImage;
  models?: { files: string[]; summary: string };
  tags: string[];
  /** The last colourisation: the library's raw output (see ColouriseResult), the tags, the time taken. */
  result?: ColorizeResult & { tags: string[]; milliseconds: number; backend: string };
  /** Every message shown to the user, oldest first. */
  messages: Array<{ kind: MessageKind; text: string }>;
  /** Live TensorFlow.js tensors (a leak check: colourising again must not raise it). */
  numTensors(): number;
}

declare global {
  interface Window {
    tag2pixDemo: DemoState;
  }
}

type MessageKind = 'error' | 'warn' | 'info';

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page is missing #${id}.`);
  return el as T;
}

const ui = {
  backendStatus: $('backend-status'),
  lineartInput: $<HTMLInputElement>('lineart-input'),
  lineartDrop: $('lineart-drop'),
  lineartInfo: $('lineart-info'),
  lineartCanvas: $<HTMLCanvasElement>('lineart-canvas'),
  weightsInput: $<HTMLInputElement>('weights-input'),
  weightsDrop: $('weights-drop'),
  weightsInfo: $('weights-info'),
  colorize: $<HTMLButtonElement>('colorize'),
  download: $<HTMLAnchorElement>('download'),
  timing: $('timing'),
  messages: $('messages'),
  outputCanvas: $<HTMLCanvasElement>('output-canvas'),
  outputCaption: $('output-caption'),
};

const state: DemoState = {
  ready: startBackend(requestedBackend(location.search)),
  tags: [],
  messages: [],
  numTensors: () => tf.memory().numTensors,
};
window.tag2pixDemo = state;

let lineArt: GreyImage | undefined;
let models: LoadedModels | undefined;
let busy = false;

/** Shows a message; `details` become a bullet list (e.g. each mismatching weight). */
function show(kind: MessageKind, text: string, details: string[] = []): void {
  const box = document.createElement('div');
  box.className = `message ${kind}`;
  box.dataset['kind'] = kind;
  box.textContent = text;
  if (details.length > 0) {
    const list = document.createElement('ul');
    for (const d of details) {
      const item = document.createElement('li');
      item.textContent = d;
      list.append(item);
    }
    box.append(list);
  }
  ui.messages.append(box);
  state.messages.push({ kind, text: [text, ...details].join('\n') });
}

/** Removes the messages of one kind of action (so fixing a file clears its old error). */
function clearMessages(): void {
  ui.messages.replaceChildren();
}

/** The page's words for the options the library's errors name. */
const PAGE_TERMS: Record<string, string> = { sources: 'the files chosen', maxBytes: 'the size limit' };

/** An error as text plus a detail list when its message has one line per problem. */
function showError(prefix: string, err: unknown): void {
  const message =
    err instanceof Tag2PixError
      ? err.messageFor((option) => PAGE_TERMS[option] ?? option)
      : err instanceof Error
        ? err.message
        : String(err);
  const [first, ...rest] = message.split('\n');
  show('error', prefix ? `${prefix}: ${first}` : first!, rest.map((l) => l.trim()).filter((l) => l !== ''));
}

function updateButton(): void {
  ui.colorize.disabled = busy || !lineArt || !models || !state.backend;
  ui.colorize.title = !state.backend
    ? 'Waiting for TensorFlow.js to start'
    : !lineArt
      ? 'Choose a line art first'
      : !models
        ? 'Load the weights first'
        : '';
}

// ---- backend ----
state.ready.then(
  (start) => {
    state.backend = start;
    const fellBack = start.requested !== 'auto' && start.backend !== start.requested;
    ui.backendStatus.textContent = `Backend: ${start.backend}` + (fellBack ? ` (fallback from ${start.requested})` : '');
    ui.backendStatus.dataset['backend'] = start.backend;
    if (fellBack || (start.requested === 'auto' && start.failures.length > 0 && start.backend === 'wasm')) {
      ui.backendStatus.classList.add('warn');
      show(
        'warn',
        `The ${start.failures.map((f) => f.backend).join(' and ')} backend could not start, so the page runs on ` +
          `${start.backend} instead (slower, but the results are the same).`,
        start.failures.map((f) => `${f.backend}: ${f.reason}`),
      );
    }
    updateButton();
  },
  (err) => {
    ui.backendStatus.textContent = 'Backend: none could start';
    ui.backendStatus.classList.add('warn');
    showError('TensorFlow.js could not start', err);
  },
);

// ---- line art ----
async function useLineArt(file: File): Promise<void> {
  clearMessages();
  try {
    lineArt = await decodeLineArt(file);
  } catch (err) {
    lineArt = undefined;
    ui.lineartInfo.textContent = '';
    showError('', err);
    updateButton();
    return;
  }
  state.lineArt = lineArt;
  drawGrey(ui.lineartCanvas, lineArt);
  ui.lineartInfo.textContent = `${file.name}: ${lineArt.width} × ${lineArt.height} px`;
  updateButton();
}

// ---- weights ----
async function useWeightFiles(files: File[]): Promise<void> {
  if (files.length === 0) return;
  clearMessages();
  const names = files.map((f) => f.name).join(', ');
  ui.weightsInfo.textContent = `Reading ${names}…`;
  models?.dispose();
  models = undefined;
  state.models = undefined;
  updateButton();
  try {
    await state.ready;
    models = await loadWeightFiles(files, (fraction) => {
      if (fraction < 1) ui.weightsInfo.textContent = `Reading ${names}… ${Math.round(fraction * 100)} %`;
    });
    state.models = { files: files.map((f) => f.name), summary: models.summary };
    ui.weightsInfo.textContent = models.summary;
  } catch (err) {
    ui.weightsInfo.textContent = 'No weights loaded.';
    showError('', err);
  }
  updateButton();
}

// ---- tags ----
const vocabulary = defaultVocabulary();
const picker = new TagPicker({
  vocabulary,
  search: $<HTMLInputElement>('tag-search'),
  addButton: $<HTMLButtonElement>('tag-add'),
  chosen: $('chosen-tags'),
  groups: $('tag-groups'),
  onChange: (tags: readonly Tag[]) => {
    state.tags = tags.map((t) => t.name);
  },
  onError: (err) => {
    clearMessages();
    showError('', err);
  },
});
const tagsFromAddress = new URLSearchParams(location.search).get('tags');
if (tagsFromAddress) picker.addFromText(tagsFromAddress);

// ---- colourise ----
async function run(): Promise<void> {
  if (!lineArt || !models || busy) return;
  busy = true;
  updateButton();
  clearMessages();
  ui.timing.textContent = 'Colourising…';
  document.body.dataset['state'] = 'busy';
  try {
    // Let the browser paint "Colourising…" before the GPU or CPU gets busy.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    const started = performance.now();
    const result = await colorize(models, lineArt, picker.tags);
    const milliseconds = performance.now() - started;
    drawRgb(ui.outputCanvas, result.width, result.height, result.rgb);
    const backend = tf.getBackend();
    state.result = { ...result, tags: picker.tags.map((t) => t.name), milliseconds, backend };
    ui.timing.textContent = `${(milliseconds / 1000).toFixed(2)} s on ${backend}`;
    ui.outputCaption.textContent = picker.tags.length
      ? `Colourised: ${picker.tags.map((t) => t.name).join(', ')}`
      : 'Colourised (no colour tag)';
    await updateDownload();
    document.body.dataset['state'] = 'done';
  } catch (err) {
    ui.timing.textContent = '';
    showError('Colourising failed', err);
    document.body.dataset['state'] = 'error';
  } finally {
    busy = false;
    updateButton();
  }
}

async function updateDownload(): Promise<void> {
  const blob = await new Promise<Blob | null>((resolve) => ui.outputCanvas.toBlob(resolve, 'image/png'));
  if (!blob) return;
  if (ui.download.href.startsWith('blob:')) URL.revokeObjectURL(ui.download.href);
  ui.download.href = URL.createObjectURL(blob);
  ui.download.hidden = false;
}

// ---- wiring: file inputs, drag and drop ----
function dropTarget(zone: HTMLElement, onFiles: (files: File[]) => void): void {
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    onFiles(Array.from(event.dataTransfer?.files ?? []));
  });
}

ui.lineartInput.addEventListener('change', () => {
  const file = ui.lineartInput.files?.[0];
  if (file) void useLineArt(file);
});
dropTarget(ui.lineartDrop, (files) => {
  if (files[0]) void useLineArt(files[0]);
});
ui.weightsInput.addEventListener('change', () => void useWeightFiles(Array.from(ui.weightsInput.files ?? [])));
dropTarget(ui.weightsDrop, (files) => void useWeightFiles(files));
ui.colorize.addEventListener('click', () => void run());
updateButton();
document.body.dataset['state'] = 'idle';
