/**
 * Review page: the published version and the draft side by side, with the
 * elements the draft adds, removes or changes marked on the diagrams
 * (bpmn-js-differ), a key, and the same changes as a list.
 *
 * Page contract (no inline script; load with
 * <script src=".../dist/review.js" defer></script> and dist/review.css):
 *
 *   <div id="review-diff"
 *        data-before-url="/governance/versions/1/diagram.bpmn"   (optional:
 *                               without it there is nothing to compare with)
 *        data-before-label="Published: version 1"
 *        data-after-url="/governance/versions/2/diagram.bpmn"
 *        data-after-label="Draft: version 2"></div>
 *
 * Added elements get a solid green outline and an "Added" badge on the
 * draft; removed ones a dashed red outline and "Removed" on the published
 * version; changed ones a dotted purple outline and "Changed" on both. Every
 * change is also listed in words, with a button that brings the element into
 * view, so nothing is told by colour alone. The container fires
 * `callgov:diff-shown` (detail: {added, removed, changed, layout} id lists);
 * tests reach the viewers as `#review-diff.bpmnViewers.before/after`.
 */
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { diff } from 'bpmn-js-differ';
import camundaModdleDescriptor from 'camunda-bpmn-moddle/resources/camunda.json';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import './review.css';
import { badgePosition, fetchText, make, whenReady } from './shared/dom.js';

const KINDS = {
  added: { marker: 'cg-added', badge: 'Added', key: 'Added: new in the draft (solid green outline)' },
  removed: { marker: 'cg-removed', badge: 'Removed', key: 'Removed: only in the published version (dashed red outline)' },
  changed: { marker: 'cg-changed', badge: 'Changed', key: 'Changed: properties differ (dotted purple outline)' }
};
const HIDDEN_TYPES = new Set(['bpmn:Definitions', 'bpmn:Process', 'bpmn:Collaboration']);

whenReady(() => {
  const container = document.getElementById('review-diff');
  if (container) {
    showReview(container);
  }
});

/** Build both viewers, import both versions, mark and list what differs. */
async function showReview(container) {
  const beforeUrl = container.getAttribute('data-before-url');
  const parts = buildLayout(container, Boolean(beforeUrl));
  const viewers = {
    before: beforeUrl ? makeViewer(parts.before.canvas) : null,
    after: makeViewer(parts.after.canvas)
  };
  container.bpmnViewers = viewers;

  try {
    const [beforeXml, afterXml] = await Promise.all([
      beforeUrl ? fetchText(beforeUrl) : Promise.resolve(null),
      fetchText(container.getAttribute('data-after-url'))
    ]);
    if (viewers.before) {
      await importDiagram(viewers.before, beforeXml, 'published version');
    }
    await importDiagram(viewers.after, afterXml, 'draft');
  } catch (error) {
    showError(container, error);
    return;
  }

  const changes = viewers.before
    ? compare(viewers.before, viewers.after)
    : { added: [], removed: [], changed: [], layout: [] };
  for (const viewer of Object.values(viewers).filter(Boolean)) {
    fitViewport(viewer);
  }
  mark(viewers.after, changes.added, KINDS.added);
  mark(viewers.after, changes.changed, KINDS.changed);
  if (viewers.before) {
    mark(viewers.before, changes.removed, KINDS.removed);
    mark(viewers.before, changes.changed, KINDS.changed);
  }
  listChanges(parts.list, changes, viewers);
  container.classList.add('cg-review--ready');
  container.dispatchEvent(new CustomEvent('callgov:diff-shown', {
    detail: Object.fromEntries(Object.entries(changes).map(([kind, items]) => [kind, items.map((c) => c.id)]))
  }));
}

function makeViewer(canvas) {
  return new NavigatedViewer({ container: canvas, moddleExtensions: { camunda: camundaModdleDescriptor } });
}

async function importDiagram(viewer, xml, what) {
  try {
    await viewer.importXML(xml);
  } catch (error) {
    throw new Error(`The ${what} is not a BPMN diagram this page can read (${error.message}).`);
  }
}

/**
 * The differences as lists of {id, name, type, attrs}; elements that are
 * the process itself or have no shape are left out of the markers but kept
 * in the list when they carry a change people can act on.
 */
function compare(before, after) {
  const result = diff(before.getDefinitions(), after.getDefinitions());
  const describe = (id, model, attrs = []) => ({
    id,
    name: (model && model.name) || '',
    type: ((model && model.$type) || '').replace(/^bpmn:/, ''),
    attrs
  });
  const keep = (model) => !model || !HIDDEN_TYPES.has(model.$type);
  const changed = Object.entries(result._changed)
    .filter(([, change]) => keep(change.model))
    .map(([id, change]) => describe(id, change.model, Object.keys(change.attrs || {})));
  return {
    added: Object.entries(result._added).filter(([, model]) => keep(model)).map(([id, model]) => describe(id, model)),
    removed: Object.entries(result._removed).filter(([, model]) => keep(model)).map(([id, model]) => describe(id, model)),
    changed,
    layout: Object.entries(result._layoutChanged)
      .filter(([id, model]) => keep(model) && !result._changed[id])
      .map(([id, model]) => describe(id, model))
  };
}

/** Marker and text badge on each element of `changes` found in `viewer`. */
function mark(viewer, changes, kind) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  for (const change of changes) {
    const element = registry.get(change.id);
    if (!element) {
      continue;
    }
    canvas.addMarker(element, kind.marker);
    if (!element.waypoints) {
      overlays.add(element, 'cg-diff', {
        position: badgePosition(element),
        html: make('span', `cg-badge ${kind.marker}-badge`, kind.badge)
      });
    }
  }
}

/** The changes in words: one list item per element, with a button to show it. */
function listChanges(list, changes, viewers) {
  const rows = [
    ...changes.added.map((c) => ['added', c, viewers.after]),
    ...changes.removed.map((c) => ['removed', c, viewers.before]),
    ...changes.changed.map((c) => ['changed', c, viewers.after]),
    ...changes.layout.map((c) => ['layout', c, viewers.after])
  ];
  if (!rows.length) {
    list.replaceWith(make('p', 'cg-review-none',
      viewers.before ? 'The diagrams are the same.' : 'There is no published version to compare with: everything in the draft is new.'));
    return;
  }
  for (const [kind, change, viewer] of rows) {
    const item = make('li', `cg-review-change cg-review-change--${kind}`);
    item.setAttribute('data-element-id', change.id);
    const tag = make('strong', `cg-review-tag cg-review-tag--${kind}`, kind === 'layout' ? 'Moved' : KINDS[kind].badge);
    const label = change.name ? `${change.name} (${change.id})` : change.id;
    const show = make('button', 'cg-review-show', label);
    show.type = 'button';
    show.setAttribute('aria-label', `Show ${label} on the ${kind === 'removed' ? 'published' : 'draft'} diagram`);
    show.addEventListener('click', () => spotlight(viewer, change.id));
    item.append(tag, ' ', show, ' ', make('span', 'cg-review-type', change.type));
    if (change.attrs.length) {
      item.append(make('span', 'cg-review-attrs', `: ${change.attrs.join(', ')}`));
    }
    list.append(item);
  }
}

/** Bring an element into view and outline it until another is chosen. */
function spotlight(viewer, id) {
  const element = viewer && viewer.get('elementRegistry').get(id);
  if (!element) {
    return;
  }
  const canvas = viewer.get('canvas');
  viewer.get('elementRegistry').forEach((other) => canvas.removeMarker(other, 'cg-spotlight'));
  canvas.addMarker(element, 'cg-spotlight');
  canvas.scrollToElement(element, 80);
  canvas.getContainer().closest('.cg-review-pane').scrollIntoView({ block: 'nearest' });
}

function fitViewport(viewer) {
  const canvas = viewer.get('canvas');
  canvas.resized();
  canvas.zoom('fit-viewport', 'auto');
}

/** Two titled panes, the key and the list. */
function buildLayout(container, withBefore) {
  container.classList.add('cg-review');
  container.replaceChildren();
  const pane = (which) => {
    const section = make('section', `cg-review-pane cg-review-pane--${which}`);
    const title = make('h3', 'cg-review-title', container.getAttribute(`data-${which}-label`) || which);
    const canvas = make('div', 'cg-review-canvas');
    canvas.setAttribute('aria-label', `Diagram: ${title.textContent}`);
    section.append(title, canvas);
    return { section, canvas };
  };
  const before = withBefore ? pane('before') : null;
  const after = pane('after');
  const legend = make('ul', 'cg-diagram-legend');
  legend.setAttribute('aria-label', 'Key to the diagrams');
  for (const kind of Object.values(KINDS)) {
    const item = make('li', `cg-legend-item ${kind.marker}-legend`);
    item.append(make('span', 'cg-legend-swatch'), make('span', 'cg-legend-text', kind.key));
    legend.append(item);
  }
  const heading = make('h3', 'cg-review-list-title', 'Changes on the diagram');
  const list = make('ul', 'cg-review-list');
  list.id = 'diagram-changes';
  container.append(...(before ? [before.section] : []), after.section, legend, heading, list);
  return { before, after, list };
}

function showError(container, error) {
  container.replaceChildren();
  const box = make('div', 'cg-diagram-error');
  box.setAttribute('role', 'alert');
  box.append(
    make('p', 'cg-diagram-error__title', 'The diagrams could not be compared.'),
    make('p', 'cg-diagram-error__detail', error.message)
  );
  container.append(box);
}
