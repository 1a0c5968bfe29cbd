// Build callgov's browser assets into webui/static/.
//
//   dist/viewer.js, dist/viewer.css    case-page diagram (bpmn-js NavigatedViewer)
//   dist/modeler.js, dist/modeler.css  governance editor (Modeler + properties panel)
//   dist/review.js, dist/review.css    review page: published vs draft (bpmn-js-differ)
//   dist/fonts/                        the bpmn icon font used by the editor
//   dist/govuk.css                     GOV.UK Frontend, system fonts, no crown
//   dist/THIRD-PARTY-NOTICES.txt       licences of everything bundled
//   vendor/govuk/govuk-frontend.min.js GOV.UK Frontend's ES module, as published
//
// The output is deterministic (same inputs, same bytes: no timestamps, no
// absolute paths), so the built files are committed and a fresh machine
// needs no npm to run the app. Rebuild with `npm ci && npm run build`.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import * as esbuild from 'esbuild';
import * as sass from 'sass';

import { cspPatches } from './csp-patches.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = path.join(here, 'node_modules');
const staticDir = path.resolve(here, '..', 'static');
const distDir = path.join(staticDir, 'dist');
const govukVendorDir = path.join(staticDir, 'vendor', 'govuk');
const govukPackage = path.join(nodeModules, 'govuk-frontend');

// Browsers GOV.UK Frontend 6 supports with JavaScript (ES modules era).
const TARGET = ['chrome111', 'edge111', 'firefox111', 'safari16.4'];

async function main() {
  await rm(distDir, { recursive: true, force: true });
  await rm(govukVendorDir, { recursive: true, force: true });
  await mkdir(distDir, { recursive: true });
  await mkdir(govukVendorDir, { recursive: true });

  // Minified one-line files: keep them out of text diffs and code statistics.
  for (const dir of [distDir, govukVendorDir]) {
    await writeFile(path.join(dir, '.gitattributes'), '*.js linguist-generated -diff\n*.css linguist-generated -diff\n');
  }
  const bundled = await buildBundles();
  const govukSources = await buildGovukCss();
  await copyGovukScript();
  await writeNotices(new Set([...bundled, ...govukSources, 'govuk-frontend']));
  await reportSizes();
}

/** Bundle the viewer, the modeler and the review view; return the npm packages they contain. */
async function buildBundles() {
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: { viewer: 'src/viewer.js', modeler: 'src/modeler.js', review: 'src/review.js' },
    outdir: distDir,
    entryNames: '[name]',
    assetNames: 'fonts/[name]-[hash]',
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: TARGET,
    minify: true,
    sourcemap: false,
    legalComments: 'none', // collected into THIRD-PARTY-NOTICES.txt instead
    charset: 'utf8',
    loader: { '.woff': 'file', '.woff2': 'file' },
    metafile: true,
    plugins: [cspPatches()],
    logLevel: 'warning'
  });
  const unexpected = Object.keys(result.metafile.outputs)
    .filter((file) => !/^\.\.\/static\/dist\/((viewer|modeler|review)\.(js|css)|fonts\/bpmn-[A-Z0-9]+\.woff2?)$/.test(file));
  if (unexpected.length) {
    throw new Error(`esbuild wrote unexpected files: ${unexpected.join(', ')}`);
  }
  return packagesOf(Object.keys(result.metafile.inputs));
}

/** Compile GOV.UK Frontend's Sass with our settings (see src/govuk.scss). */
async function buildGovukCss() {
  const result = sass.compile(path.join(here, 'src', 'govuk.scss'), {
    loadPaths: [nodeModules],
    style: 'compressed',
    sourceMap: false,
    charset: false
  });
  const forbidden = /GDS Transport|@font-face|govuk-crest|url\(/.exec(result.css);
  if (forbidden) {
    throw new Error(`govuk.css must not reference GOV.UK fonts or images, found "${forbidden[0]}"`);
  }
  await writeFile(path.join(distDir, 'govuk.css'), result.css + '\n');
  return packagesOf(result.loadedUrls.map((url) => path.relative(here, fileURLToPath(url))));
}

/**
 * Copy GOV.UK Frontend's ES module for static/js/init-govuk.js. The source
 * map is not shipped, so its comment is dropped.
 */
async function copyGovukScript() {
  const source = await readFile(path.join(govukPackage, 'dist', 'govuk', 'govuk-frontend.min.js'), 'utf8');
  const script = source.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  await writeFile(path.join(govukVendorDir, 'govuk-frontend.min.js'), script);
}

/** npm package names for a list of paths relative to this folder. */
function packagesOf(files) {
  const names = new Set();
  for (const file of files) {
    const parts = file.split(/[\\/]/);
    const index = parts.lastIndexOf('node_modules');
    if (index === -1) {
      continue;
    }
    const scoped = parts[index + 1].startsWith('@');
    names.add(parts.slice(index + 1, index + (scoped ? 3 : 2)).join('/'));
  }
  return names;
}

/** Write the licence of every package that ends up in the static files. */
async function writeNotices(packageNames) {
  const sections = [];
  for (const name of [...packageNames].sort()) {
    const dir = path.join(nodeModules, name);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const licenceFile = (await readdir(dir)).sort().find((file) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(file));
    const licence = licenceFile
      ? readFileSync(path.join(dir, licenceFile), 'utf8').trim()
      : readmeLicence(dir) ?? `${manifest.license} licence (the package ships no licence file).`;
    sections.push(`${name} ${manifest.version}\n${'-'.repeat(name.length + manifest.version.length + 1)}\n${licence}\n`);
  }
  const header = 'Third-party software in callgov\'s static assets (webui/static/dist, webui/static/vendor).\n'
    + 'bpmn-js is used under the bpmn.io license: the bpmn.io watermark must stay visible.\n\n';
  await writeFile(path.join(distDir, 'THIRD-PARTY-NOTICES.txt'), header + sections.join('\n'));
}

/** The "Licence" section of a package's README, for packages without a licence file. */
function readmeLicence(dir) {
  const readme = path.join(dir, 'README.md');
  if (!existsSync(readme)) {
    return null;
  }
  const match = /^##\s+Licen[cs]e\s*\n([\s\S]*?)(?=^##\s|(?![\s\S]))/im.exec(readFileSync(readme, 'utf8'));
  return match ? `${match[1].trim()}\n(From the package's README; the package ships no licence file.)` : null;
}

/** Print each produced file with its raw and gzipped size and a short hash. */
async function reportSizes() {
  const rows = [];
  for (const dir of [distDir, govukVendorDir]) {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.startsWith('.')) {
        continue;
      }
      const file = path.join(entry.parentPath ?? entry.path, entry.name);
      const bytes = await readFile(file);
      rows.push([
        path.relative(staticDir, file),
        `${(bytes.length / 1024).toFixed(1)} KiB`,
        `${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KiB gz`,
        createHash('sha256').update(bytes).digest('hex').slice(0, 12)
      ]);
    }
  }
  rows.sort((a, b) => a[0].localeCompare(b[0]));
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) {
    console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  '));
  }
}

if (!existsSync(nodeModules)) {
  console.error('node_modules is missing: run `npm ci` first.');
  process.exit(1);
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
