/**
 * Properties-panel choices from the server: the roles a user task may be
 * offered to (candidate groups) and the registered operations a service task
 * may call (topics).
 *
 * The page passes them on #modeler as
 *   data-choices='{"roles": [{"value": "dpo", "label": "Data Protection Officer"}],
 *                  "topics": [{"value": "send_mail", "label": "Send an email"}]}'
 * and the modeler hands them to this module as `config.callgovChoices`.
 * The Camunda text fields stay: the XML may hold other values, which the
 * server's checks then report when the draft is saved.
 */
import { CheckboxEntry, SelectEntry, isCheckboxEntryEdited, isSelectEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';

const LOW_PRIORITY = 400; // after the Camunda provider (500), so its groups exist

/** Split a camunda:candidateGroups value into names, in order. */
export function splitGroups(text) {
  return (text || '').split(',').map((part) => part.trim()).filter(Boolean);
}

/** Whether `name` (a key or a label, any case) stands for `role`. */
function names(role, name) {
  const normal = (value) => value.replace(/[_/]/g, ' ').replace(/\s+/g, ' ').trim().toLowerCase();
  return normal(name) === normal(role.value) || normal(name) === normal(role.label || '');
}

class CallgovChoicesProvider {
  constructor(propertiesPanel, config) {
    this._choices = normalise(config);
    propertiesPanel.registerProvider(LOW_PRIORITY, this);
  }

  getGroups() {
    return (groups) => {
      for (const group of groups) {
        if (group.id === 'CamundaPlatform__UserAssignment' && this._choices.roles.length) {
          insertAfter(group, 'candidateGroups', roleEntries(this._choices.roles));
        }
        if (group.id === 'CamundaPlatform__Implementation' && this._choices.topics.length) {
          insertBefore(group, 'externalTopic', [{
            id: 'callgov-operation',
            component: (props) => OperationSelect({ ...props, topics: this._choices.topics }),
            isEdited: isSelectEntryEdited
          }]);
        }
      }
      return groups;
    };
  }
}
CallgovChoicesProvider.$inject = ['propertiesPanel', 'config.callgovChoices'];

function normalise(config) {
  const list = (value) => (Array.isArray(value) ? value : [])
    .filter((item) => item && typeof item.value === 'string' && item.value)
    .map((item) => ({ value: item.value, label: typeof item.label === 'string' ? item.label : '' }));
  return { roles: list(config && config.roles), topics: list(config && config.topics) };
}

function insertAfter(group, entryId, entries) {
  const index = group.entries.findIndex((entry) => entry.id === entryId);
  if (index !== -1) {
    group.entries.splice(index + 1, 0, ...entries);
  }
}

function insertBefore(group, entryId, entries) {
  const index = group.entries.findIndex((entry) => entry.id === entryId);
  if (index !== -1) {
    group.entries.splice(index, 0, ...entries);
  }
}

function roleEntries(roles) {
  return roles.map((role, index) => ({
    id: `callgov-role-${role.value}`,
    component: (props) => RoleCheckbox({ ...props, role, last: index === roles.length - 1 }),
    isEdited: isCheckboxEntryEdited
  }));
}

/** One role as a checkbox that adds its key to, or takes it out of, the candidate groups. */
function RoleCheckbox(props) {
  const { element, id, role, last } = props;
  const commandStack = useService('commandStack');
  const businessObject = element.businessObject;
  const current = () => splitGroups(businessObject.get('camunda:candidateGroups'));
  const setValue = (checked) => {
    const others = current().filter((name) => !names(role, name));
    const value = (checked ? [...others, role.value] : others).join(', ');
    commandStack.execute('element.updateModdleProperties', {
      element,
      moddleElement: businessObject,
      properties: { 'camunda:candidateGroups': value || undefined }
    });
  };
  return CheckboxEntry({
    element,
    id,
    label: role.label ? `${role.label} (${role.value})` : role.value,
    description: last ? 'Tick the roles that may do this task. The box above may also name others; saving reports any the system does not know.' : undefined,
    getValue: () => current().some((name) => names(role, name)),
    setValue
  });
}

/** The registered operations as a dropdown that sets camunda:topic. */
function OperationSelect(props) {
  const { element, id, topics } = props;
  const commandStack = useService('commandStack');
  const businessObject = element.businessObject;
  const getValue = () => businessObject.get('camunda:topic') || '';
  const getOptions = () => {
    const value = getValue();
    const options = [{ value: '', label: '(choose an operation)' }].concat(topics.map((topic) => ({
      value: topic.value,
      label: topic.label ? `${topic.value}: ${topic.label}` : topic.value
    })));
    if (value && !topics.some((topic) => topic.value === value)) {
      options.push({ value, label: `${value} (not a registered operation)` });
    }
    return options;
  };
  return SelectEntry({
    element,
    id,
    label: 'Registered operation',
    description: 'What the task does when it runs. You can also type a topic below; saving reports one that is not registered.',
    getValue,
    getOptions,
    setValue: (value) => commandStack.execute('element.updateModdleProperties', {
      element,
      moddleElement: businessObject,
      properties: { 'camunda:topic': value }
    })
  });
}

export default {
  __init__: ['callgovChoicesProvider'],
  callgovChoicesProvider: ['type', CallgovChoicesProvider]
};
