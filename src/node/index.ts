export { initBackend } from './backend.js';
export type { BackendName, BackendReport } from './backend.js';
