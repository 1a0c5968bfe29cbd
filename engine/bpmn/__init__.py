"""The BPMN dialect: our parser, task specs, safe script engine and serializer on SpiffWorkflow."""
