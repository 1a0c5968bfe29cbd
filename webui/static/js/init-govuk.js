// Start GOV.UK Frontend's components on every page.
//
// Load as <script type="module" src="/static/js/init-govuk.js"></script>.
// GOV.UK's page template marks <body> with an inline script; our
// Content-Security-Policy forbids inline script, so that is done here.
// Module scripts run only in the browsers GOV.UK Frontend supports, which is
// exactly when the `govuk-frontend-supported` class should be set.
import { initAll } from '../vendor/govuk/govuk-frontend.min.js';

document.body.classList.add('js-enabled', 'govuk-frontend-supported');
initAll();
