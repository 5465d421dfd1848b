// The build is deterministic and its output names are fixed (no content hashes), so that the
// `palier` binary embeds exactly three files with `include_bytes!` and CI can rebuild and
// compare the committed `dist/` byte for byte (scripts/build-dashboard.sh).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/dashboard/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: false,
    sourcemap: false,
    target: 'es2022',
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/dashboard.js',
        chunkFileNames: 'assets/dashboard-[name].js',
        assetFileNames: 'assets/dashboard[extname]',
      },
    },
  },
});
