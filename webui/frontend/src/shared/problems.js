/**
 * The editor's problem report: markers and badges on the canvas, and a
 * GOV.UK-style summary in #problems whose entries select the element.
 */
import { badgePosition, elementLabel, make } from './dom.js';

const MARKER = 'cg-problem';

export class ProblemReport {
  /** `root` is the page's #problems element (may be null: canvas only). */
  constructor(root) {
    this.root = root;
    this.modeler = null;
    this.marked = [];
    if (root) {
      root.classList.add('cg-problems');
      this.status = make('p', 'cg-save-status');
      this.status.setAttribute('role', 'status');
      this.summary = make('div', 'govuk-error-summary cg-problem-summary');
      this.summary.tabIndex = -1;
      this.summary.hidden = true;
      root.replaceChildren(this.status, this.summary);
      this.summary.addEventListener('click', (event) => this.onClick(event));
    }
  }

  /** Bind to the modeler whose canvas carries the markers. */
  attach(modeler) {
    this.modeler = modeler;
  }

  /** Show a one-line status: kind is 'info', 'success' or 'error'. */
  showMessage(kind, text) {
    if (!this.root) {
      return;
    }
    this.status.className = `cg-save-status cg-save-status--${kind}`;
    this.status.textContent = text;
  }

  /** Show the server's answer to a save: status line, markers, list. */
  showResult({ ok, problems, version, error }) {
    this.clearMarkers();
    const count = problems.length;
    const noun = count === 1 ? 'problem' : 'problems';
    const number = version && (version.number ?? version.id);
    const saved = number !== undefined && number !== null ? `Draft saved as version ${number}.` : 'Draft saved.';

    if (!ok) {
      this.showMessage('error', `The draft was not saved. ${error || ''}`.trim());
    } else if (count) {
      this.showMessage('error', `${saved} It has ${count} ${noun} and cannot be published until ${count === 1 ? 'it is' : 'they are'} fixed.`);
    } else {
      this.showMessage('success', `${saved} No problems found.`);
    }
    this.markProblems(problems);
    this.listProblems(problems);
  }

  /** Put the marker and a badge on each element that has problems. */
  markProblems(problems) {
    const registry = this.modeler.get('elementRegistry');
    const canvas = this.modeler.get('canvas');
    const overlays = this.modeler.get('overlays');
    const perElement = new Map();
    for (const problem of problems) {
      if (problem.element_id && registry.get(problem.element_id)) {
        perElement.set(problem.element_id, (perElement.get(problem.element_id) || 0) + 1);
      }
    }
    for (const [id, count] of perElement) {
      const element = registry.get(id);
      canvas.addMarker(element, MARKER);
      this.marked.push(element);
      if (!element.waypoints) {
        overlays.add(element, MARKER, {
          position: badgePosition(element),
          html: make('span', 'cg-badge cg-problem-badge', count === 1 ? 'Problem' : `${count} problems`)
        });
      }
    }
  }

  /** Remove the markers and badges of the previous save. */
  clearMarkers() {
    if (!this.modeler) {
      return;
    }
    const registry = this.modeler.get('elementRegistry');
    const canvas = this.modeler.get('canvas');
    for (const element of this.marked) {
      if (registry.get(element.id) === element) {
        canvas.removeMarker(element, MARKER);
      }
    }
    this.marked = [];
    this.modeler.get('overlays').remove({ type: MARKER });
  }

  /** Render the list of problems; entries tied to an element are buttons. */
  listProblems(problems) {
    if (!this.root) {
      return;
    }
    if (!problems.length) {
      this.summary.hidden = true;
      this.summary.replaceChildren();
      return;
    }
    const registry = this.modeler.get('elementRegistry');
    const title = make('h2', 'govuk-error-summary__title',
      problems.length === 1 ? 'There is a problem with this draft' : `There are ${problems.length} problems with this draft`);
    const list = make('ul', 'govuk-list govuk-error-summary__list cg-problem-list');
    for (const problem of problems) {
      const item = make('li', 'cg-problem-item');
      const element = problem.element_id ? registry.get(problem.element_id) : null;
      if (element) {
        const button = make('button', 'cg-problem-link', `${elementLabel(element)}: ${problem.message}`);
        button.type = 'button';
        button.setAttribute('data-element-id', element.id);
        item.append(button);
      } else {
        const where = problem.element_id ? `${problem.element_id}: ` : '';
        item.textContent = `${where}${problem.message}`;
      }
      list.append(item);
    }
    const body = make('div', 'govuk-error-summary__body');
    body.append(list);
    this.summary.setAttribute('aria-labelledby', 'cg-problem-summary-title');
    title.id = 'cg-problem-summary-title';
    this.summary.replaceChildren(title, body);
    this.summary.hidden = false;
    this.summary.focus();
  }

  /** Select the element of a clicked problem and bring it into view. */
  onClick(event) {
    const button = event.target.closest('button[data-element-id]');
    if (!button) {
      return;
    }
    const element = this.modeler.get('elementRegistry').get(button.getAttribute('data-element-id'));
    if (!element) {
      this.showMessage('error', 'That element is no longer in the diagram.');
      return;
    }
    this.modeler.get('canvas').scrollToElement(element);
    this.modeler.get('selection').select(element);
  }
}
