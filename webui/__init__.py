"""callgov's web UI: a Flask app over the engine facade, one blueprint per audience.

``create_app()`` builds it; ``webui.devserver.run()`` serves it for local use and the demo. Views
parse input, call one ``Callgov`` method and render; everything else happens in the engine.
"""

from webui.app import create_app, facade

__all__ = ["create_app", "facade"]
