/**
 * Governance editor: the bpmn-js Modeler with the Camunda Platform 7
 * properties panel, saving drafts to the server and showing its checks.
 *
 * Page contract (no inline script; load with
 * <script src=".../dist/modeler.js" defer></script> and dist/modeler.css):
 *
 *   <div id="modeler"
 *        data-load-url="/governance/processes/release/draft.bpmn"   (optional:
 *                                        without it a new diagram is started)
 *        data-save-url="/governance/processes/release/drafts"
 *        data-csrf-token="{{ csrf_token() }}"
 *        data-choices='{"roles": [{"value": "dpo", "label": "…"}],
 *                       "topics": [{"value": "…", "label": "…"}]}'>   (optional)
 *     <div id="canvas"></div>
 *     <div id="properties"></div>
 *   </div>
 *   <button type="button" id="save-draft" class="govuk-button">Save draft</button>
 *   <div id="problems"></div>
 *
 * Saving POSTs {"xml": "..."} as JSON with an X-CSRFToken header and expects
 * {"problems": [{"element_id": "Task_1" | null, "message": "..."}],
 *  "version": {"number": 3, ...}}. The elements concerned are marked on the
 * canvas and the problems listed in #problems as buttons that select the
 * element. With data-choices, the properties panel offers the roles as
 * candidate groups and the operations as service-task topics
 * (shared/choices.js). The container fires `callgov:modeler-ready` and
 * `callgov:draft-saved` (detail: the server's answer) for page scripts.
 */
import BpmnModeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdleDescriptor from 'camunda-bpmn-moddle/resources/camunda.json';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import './modeler.css';
import CallgovChoicesModule from './shared/choices.js';
import { fetchText, readJson, whenReady } from './shared/dom.js';
import { ProblemReport } from './shared/problems.js';

whenReady(() => {
  const container = document.getElementById('modeler');
  if (container) {
    startEditor(container);
  }
});

/** Create the modeler in the page's #modeler and wire loading and saving. */
async function startEditor(container) {
  const canvasParent = document.getElementById('canvas');
  const propertiesParent = document.getElementById('properties');
  const saveButton = document.getElementById('save-draft');
  const report = new ProblemReport(document.getElementById('problems'));

  container.classList.add('cg-modeler');
  canvasParent.classList.add('cg-modeler-canvas');
  propertiesParent.classList.add('cg-modeler-properties');

  const modeler = new BpmnModeler({
    container: canvasParent,
    propertiesPanel: { parent: propertiesParent },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule,
      CallgovChoicesModule
    ],
    moddleExtensions: { camunda: camundaModdleDescriptor },
    callgovChoices: readJson(container, 'data-choices') || {}
  });
  container.bpmnModeler = modeler;
  report.attach(modeler);

  const state = { dirty: false, saving: false };
  modeler.on('commandStack.changed', () => {
    state.dirty = true;
  });

  try {
    await openDiagram(modeler, container.getAttribute('data-load-url'));
  } catch (error) {
    if (saveButton) {
      saveButton.disabled = true;
    }
    report.showMessage('error', `The diagram could not be opened. ${error.message}`);
    return;
  }
  modeler.get('canvas').zoom('fit-viewport', 'auto');
  state.dirty = false;

  const save = () => saveDraft(container, modeler, report, state, saveButton);
  if (saveButton) {
    saveButton.addEventListener('click', save);
  }
  document.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
      event.preventDefault();
      save();
    }
  });
  window.addEventListener('beforeunload', (event) => {
    if (state.dirty) {
      event.preventDefault();
      event.returnValue = '';
    }
  });

  container.dispatchEvent(new CustomEvent('callgov:modeler-ready', { detail: { modeler } }));
}

/** Load the diagram at `url`, or start a blank one when there is none. */
async function openDiagram(modeler, url) {
  if (!url) {
    await modeler.createDiagram();
    return;
  }
  const xml = await fetchText(url);
  try {
    const { warnings } = await modeler.importXML(xml);
    if (warnings.length) {
      console.warn('callgov: diagram imported with warnings', warnings);
    }
  } catch (error) {
    throw new Error(`The file is not a BPMN diagram the editor can read (${error.message}).`);
  }
}

/** Send the diagram to the server as a draft and show what it found. */
async function saveDraft(container, modeler, report, state, saveButton) {
  if (state.saving) {
    return;
  }
  state.saving = true;
  if (saveButton) {
    saveButton.disabled = true;
    saveButton.setAttribute('aria-busy', 'true');
  }
  report.showMessage('info', 'Saving the draft\u2026');

  try {
    const { xml } = await modeler.saveXML({ format: true });
    const answer = await postDraft(container, xml);
    if (answer.ok) {
      state.dirty = false;
    }
    report.showResult(answer);
    container.dispatchEvent(new CustomEvent('callgov:draft-saved', { detail: answer }));
  } catch (error) {
    report.showMessage('error', `The draft was not saved. ${error.message}`);
  } finally {
    state.saving = false;
    if (saveButton) {
      saveButton.disabled = false;
      saveButton.removeAttribute('aria-busy');
    }
  }
}

/**
 * POST the XML; resolve to {ok, status, problems, version, error} whenever
 * the server answered, reject only when it could not be reached or answered
 * with something other than our JSON.
 */
async function postDraft(container, xml) {
  let response;
  try {
    response = await fetch(container.getAttribute('data-save-url'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'X-CSRFToken': container.getAttribute('data-csrf-token') || ''
      },
      body: JSON.stringify({ xml })
    });
  } catch (error) {
    throw new Error('The server could not be reached. Your changes are still here; try again.');
  }

  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!body || typeof body !== 'object') {
    throw new Error(`The server answered ${response.status} ${response.statusText}`.trim() + '.');
  }
  return {
    ok: response.ok,
    status: response.status,
    problems: Array.isArray(body.problems) ? body.problems : [],
    version: body.version || null,
    error: body.error || body.message || null
  };
}
