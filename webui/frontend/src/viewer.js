/**
 * Case-page diagram: a read-only, zoomable BPMN diagram with the case's
 * completed and current steps highlighted.
 *
 * Page contract (no inline script needed; load with
 * <script src=".../dist/viewer.js" defer></script> and dist/viewer.css):
 *
 *   <div id="diagram"
 *        data-diagram-url="/cases/42/diagram.bpmn"
 *        data-completed='["StartEvent_1","Task_request"]'
 *        data-current='["Task_authorise"]'
 *        aria-label="Process diagram for case RR-2024-0042"></div>
 *
 * The bundle fills the element with the canvas, zoom buttons and a legend,
 * or with a readable error if the diagram cannot be shown.
 */
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import './viewer.css';
import { badgePosition, fetchText, make, readIdList, whenReady } from './shared/dom.js';

const MARKERS = {
  completed: 'cg-completed',
  current: 'cg-current'
};

whenReady(() => {
  const container = document.getElementById('diagram');
  if (container) {
    showDiagram(container);
  }
});

/** Build the viewer inside `container` and show the diagram it points to. */
async function showDiagram(container) {
  const parts = buildLayout(container);
  const viewer = new NavigatedViewer({ container: parts.canvas });
  container.bpmnViewer = viewer;

  try {
    const url = container.getAttribute('data-diagram-url');
    if (!url) {
      throw new Error('The page did not say where the diagram is (data-diagram-url is missing).');
    }
    const xml = await fetchText(url);
    await importDiagram(viewer, xml);
  } catch (error) {
    showError(container, parts, error);
    return;
  }

  const completed = readIdList(container, 'data-completed');
  const current = readIdList(container, 'data-current');
  const shown = {
    completed: highlight(viewer, completed, MARKERS.completed),
    current: highlight(viewer, current, MARKERS.current)
  };
  fitViewport(viewer);
  wireToolbar(viewer, parts.toolbar);
  refitOnResize(viewer);
  container.classList.add('cg-diagram--ready');
  container.dispatchEvent(new CustomEvent('callgov:diagram-shown', { detail: { viewer, shown } }));
}

/** Import XML, turning bpmn-js's parse failure into a message for people. */
async function importDiagram(viewer, xml) {
  try {
    const { warnings } = await viewer.importXML(xml);
    if (warnings.length) {
      console.warn('callgov: diagram imported with warnings', warnings);
    }
  } catch (error) {
    console.error('callgov: diagram import failed', error);
    throw new Error(`The file is not a BPMN diagram this page can read (${error.message}).`);
  }
}

/**
 * Add `marker` to every listed element that exists in the diagram, and put a
 * small text badge on it so the state is not told by colour alone.
 * Returns the ids actually highlighted.
 */
function highlight(viewer, ids, marker) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  const badge = marker === MARKERS.current ? 'Current' : 'Done';
  const found = [];

  for (const id of new Set(ids)) {
    const element = registry.get(id);
    if (!element) {
      console.warn(`callgov: element ${id} is not in the diagram`);
      continue;
    }
    canvas.addMarker(element, marker);
    found.push(id);
    if (!element.waypoints && element.type !== 'bpmn:Process' && element.type !== 'bpmn:Collaboration') {
      overlays.add(element, 'cg-state', {
        position: badgePosition(element),
        html: make('span', `cg-badge ${marker}-badge`, badge)
      });
    }
  }
  return found;
}

/** Fit the whole diagram in view, centred. */
function fitViewport(viewer) {
  const canvas = viewer.get('canvas');
  canvas.resized();
  canvas.zoom('fit-viewport', 'auto');
}

/** Keep diagram-js's cached size in step with the page's layout. */
function refitOnResize(viewer) {
  let pending = null;
  window.addEventListener('resize', () => {
    window.clearTimeout(pending);
    pending = window.setTimeout(() => viewer.get('canvas').resized(), 150);
  });
}

/** Zoom buttons for people without a wheel or trackpad (tablets, keyboards). */
function wireToolbar(viewer, toolbar) {
  const zoomScroll = viewer.get('zoomScroll');
  const actions = {
    'zoom-in': () => zoomScroll.stepZoom(1),
    'zoom-out': () => zoomScroll.stepZoom(-1),
    fit: () => fitViewport(viewer)
  };
  toolbar.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) {
      actions[button.getAttribute('data-action')]();
    }
  });
  toolbar.hidden = false;
}

/** Replace the container's content with the canvas, toolbar and legend. */
function buildLayout(container) {
  container.classList.add('cg-diagram');
  container.replaceChildren();

  const toolbar = make('div', 'cg-diagram-toolbar');
  toolbar.hidden = true;
  for (const [action, text, label] of [
    ['zoom-in', '+', 'Zoom in'],
    ['zoom-out', '\u2212', 'Zoom out'],
    ['fit', 'Fit', 'Fit the whole diagram']
  ]) {
    const button = make('button', 'cg-diagram-button', text);
    button.type = 'button';
    button.setAttribute('data-action', action);
    button.setAttribute('aria-label', label);
    button.title = label;
    toolbar.append(button);
  }

  const canvas = make('div', 'cg-diagram-canvas');
  const legend = make('ul', 'cg-diagram-legend');
  legend.setAttribute('aria-label', 'Key to the diagram');
  for (const [marker, text] of [
    [MARKERS.completed, 'Done: step completed'],
    [MARKERS.current, 'Current: waiting for this step']
  ]) {
    const item = make('li', `cg-legend-item ${marker}-legend`);
    item.append(make('span', 'cg-legend-swatch'), make('span', 'cg-legend-text', text));
    legend.append(item);
  }

  container.append(toolbar, canvas, legend);
  return { toolbar, canvas, legend };
}

/** Show why the diagram is missing, in words, in place of the canvas. */
function showError(container, parts, error) {
  container.classList.add('cg-diagram--error');
  parts.toolbar.remove();
  parts.canvas.remove();
  parts.legend.remove();
  const box = make('div', 'cg-diagram-error');
  box.setAttribute('role', 'alert');
  box.append(
    make('p', 'cg-diagram-error__title', 'The process diagram could not be shown.'),
    make('p', 'cg-diagram-error__detail', error.message)
  );
  container.append(box);
}
