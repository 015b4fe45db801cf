/**
 * Vite build of the web client. `npm run build:web` (= `vite build web`) writes web/dist, which
 * the Worker serves as static assets (wrangler.toml, [assets]); `npm run dev` builds it first.
 *
 * `npm run dev:web` starts Vite's dev server with hot reload instead, forwarding the API and the
 * WebSocket to the Worker of `npm run dev` on 127.0.0.1:8787.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  // Paths below are relative to web/ (the root: `vite build web`, or scripts/dev.mjs).
  clearScreen: false,
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    // The SDK and protocol live outside web/ (../client, ../protocol).
    fs: { allow: ['..'] },
    proxy: { '/v1': { target: 'http://127.0.0.1:8787', ws: true } },
  },
});
