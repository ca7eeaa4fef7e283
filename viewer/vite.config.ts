/**
 * Builds the clinician viewer (Cornerstone3D) into viewer/dist, which the API serves at /viewer/
 * (services/api/routes/viewer.ts). `npm run build:viewer`; `npm install` runs it (the `prepare`
 * script), so `npm start` always has a viewer. STACK.md: Vite 8 emits Cornerstone's decoder worker
 * and codec .wasm files by itself; vtk.js needs the `events` package.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/viewer/',
  // No inline scripts or eval: the page's CSP (script-src 'self' 'wasm-unsafe-eval') forbids them.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    // Hashed file names: immutable caching of assets, index.html is revalidated.
    assetsDir: 'assets',
  },
  worker: { format: 'es' },
  optimizeDeps: {
    exclude: ['@cornerstonejs/dicom-image-loader', '@cornerstonejs/metadata'],
    include: ['dicom-parser', '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs'],
  },
  // The dev server (npm run dev:viewer) proxies the API to a running `npm start`.
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/dicomweb': 'http://127.0.0.1:8080',
    },
  },
});
