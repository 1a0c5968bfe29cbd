// Build-time edits that let the bundles run under `style-src 'self'`.
//
// A Content-Security-Policy without 'unsafe-inline' in style-src blocks
// `style="..."` attributes that arrive through HTML strings (innerHTML,
// domify). Styles set through the CSSOM (element.style.x = ..., which is how
// bpmn-js, diagram-js and Preact style things) are not affected. A handful of
// upstream strings do carry style attributes; each is rewritten here to an
// equivalent that CSP allows. Every patch must match, so an upgrade that
// changes the upstream text fails the build instead of silently regressing.

import { readFile } from 'node:fs/promises';

// SVG presentation attributes: not styles as far as CSP is concerned.
const PRESENTATION_ATTRIBUTES = new Set([
  'fill', 'opacity', 'stroke', 'stroke-linecap', 'stroke-linejoin', 'stroke-width'
]);

/** Turn `style="fill:none;stroke:red"` into `fill="none" stroke="red"`. */
function styleToPresentationAttributes(code, file) {
  return code.replace(/style="([^"]*)"/g, (_, declarations) => declarations
    .split(';')
    .map((declaration) => declaration.trim())
    .filter(Boolean)
    .map((declaration) => {
      const [name, value] = declaration.split(':').map((part) => part.trim());
      if (!PRESENTATION_ATTRIBUTES.has(name)) {
        throw new Error(`${file}: "${name}" is not an SVG presentation attribute`);
      }
      return `${name}="${value}"`;
    })
    .join(' '));
}

/** Remove an exact piece of text that must be present. */
function remove(text) {
  return (code, file) => {
    if (!code.includes(text)) {
      throw new Error(`${file}: expected text not found: ${text}`);
    }
    return code.split(text).join('');
  };
}

const PATCHES = [
  {
    // Align/distribute icons in the context pad and popup menu.
    file: /[\\/]bpmn-js[\\/]lib[\\/]features[\\/](align|distribute)-elements[\\/]\w+Icons\.js$/,
    transform: styleToPresentationAttributes
  },
  {
    // The properties panel's two containers; the same rules live in
    // src/modeler.css (.bio-properties-panel-container, -header-container).
    file: /[\\/]bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/,
    transform: (code, file) => remove(' style="flex: none; height: auto"')(
      remove(' style="height: 100%"')(code, file), file)
  }
];

/** esbuild plugin applying PATCHES; fails the build if one never applied. */
export function cspPatches() {
  return {
    name: 'callgov-csp-patches',
    setup(build) {
      const applied = new Set();
      build.onLoad({ filter: /(Icons|index\.esm)\.js$/ }, async (args) => {
        const patch = PATCHES.find((candidate) => candidate.file.test(args.path));
        if (!patch) {
          return undefined;
        }
        const code = await readFile(args.path, 'utf8');
        const patched = patch.transform(code, args.path);
        if (patched === code || /style="/.test(patched)) {
          throw new Error(`${args.path}: CSP patch did not apply cleanly`);
        }
        applied.add(patch);
        return { contents: patched, loader: 'js' };
      });
      build.onEnd((result) => {
        if (!result.errors.length && applied.size !== PATCHES.length) {
          throw new Error(`only ${applied.size} of ${PATCHES.length} CSP patches applied: update csp-patches.mjs`);
        }
      });
    }
  };
}
