/**
 * Small DOM helpers shared by the viewer and the modeler bundles.
 *
 * Everything here works under a Content-Security-Policy without
 * 'unsafe-inline': elements are built with createElement/textContent and
 * never from HTML strings carrying style or event-handler attributes.
 */

/** Run `callback` once the document has been parsed. */
export function whenReady(callback) {
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', callback, { once: true });
  } else {
    callback();
  }
}

/**
 * Read a data attribute holding a JSON list of element ids.
 *
 * A missing, empty or malformed attribute yields an empty list, so a page
 * that has nothing to highlight still shows its diagram.
 */
export function readIdList(element, attribute) {
  const raw = element.getAttribute(attribute);
  if (!raw) {
    return [];
  }
  try {
    const value = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((id) => typeof id === 'string') : [];
  } catch (error) {
    console.warn(`callgov: ${attribute} is not a JSON list`, error);
    return [];
  }
}

/** Read a data attribute holding a JSON object; null when missing or malformed. */
export function readJson(element, attribute) {
  const raw = element.getAttribute(attribute);
  if (!raw) {
    return null;
  }
  try {
    const value = JSON.parse(raw);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch (error) {
    console.warn(`callgov: ${attribute} is not a JSON object`, error);
    return null;
  }
}

/** Create an element with an optional class name and text. */
export function make(tagName, className, text) {
  const element = document.createElement(tagName);
  if (className) {
    element.className = className;
  }
  if (text !== undefined) {
    element.textContent = text;
  }
  return element;
}

/**
 * Fetch a text resource from our own origin, raising an Error whose message
 * can be shown to a person when the answer is not 2xx.
 */
export async function fetchText(url) {
  let response;
  try {
    response = await fetch(url, {
      credentials: 'same-origin',
      headers: { Accept: 'application/xml, text/xml' }
    });
  } catch (error) {
    throw new Error('The server could not be reached. Check your connection and reload the page.');
  }
  if (!response.ok) {
    throw new Error(`The server answered ${response.status} ${response.statusText}`.trim() + '.');
  }
  return response.text();
}

/**
 * Human-readable label for a diagram element: its name if it has one,
 * otherwise its id.
 */
export function elementLabel(element) {
  const name = element && element.businessObject && element.businessObject.name;
  return name ? `${name.trim()} (${element.id})` : element.id;
}

/**
 * Where a state badge goes on a shape: across the top-right corner of tasks,
 * above small shapes (events, gateways) so the symbol stays visible.
 */
export function badgePosition(element) {
  return element.width < 60 ? { top: -24, left: -4 } : { top: -12, right: 12 };
}
