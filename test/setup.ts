import { initBackend } from '../src/node/backend.js';

// The suite runs on cpu unless TAG2PIX_BACKEND names another backend (e.g. wasm).
await initBackend(process.env['TAG2PIX_BACKEND'] || 'cpu');
