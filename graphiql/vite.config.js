// Builds the GraphiQL page into the gateway's package (gateway/static/graphiql/): index.html,
// which the gateway serves at GET /graphql with its CSP, and content-hashed files under
// graphiql/, which it serves at /graphiql/ with a year-long immutable cache.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  // Relative URLs: the page at /graphql loads ./graphiql/…, which still holds behind a proxy
  // that mounts the gateway under a path prefix.
  base: "./",
  build: {
    outDir: fileURLToPath(new URL("../gateway/static/graphiql", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "graphiql",
    // Inlined assets would be data: URLs, which the page's CSP does not allow for scripts.
    assetsInlineLimit: 0,
    // Monaco alone is megabytes: the warning says nothing here.
    chunkSizeWarningLimit: 8000,
    rolldownOptions: {
      onwarn(warning, warn) {
        // React's "use client" markers mean nothing outside server components.
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  worker: { format: "es" },
});
