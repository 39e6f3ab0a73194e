// Builds dist/clinic-chat.js: the widget and socket.io-client in one file, no runtime CDN.
// Usage: npm ci && npm run build   (add --watch while developing)
import { build, context } from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));

const options = {
  entryPoints: ["src/index.js"],
  outfile: "dist/clinic-chat.js",
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  platform: "browser",
  // Browsers of the last few years, including iOS Safari 15.
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  loader: { ".css": "text" },
  legalComments: "linked",
  banner: { js: `/* ${pkg.name} ${pkg.version} */` },
  define: { __WIDGET_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await context(options);
  await ctx.watch();
} else {
  await build(options);
}
