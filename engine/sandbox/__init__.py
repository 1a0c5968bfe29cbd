"""Test runs of a process version in a sandbox: the governance editor's "Try it" (issue 8).

A test run is a throw-away callgov of its own: a SQLite database under the instance folder
(``<instance>/sandbox/<run id>.sqlite3``, migrated like the real one), sample telephony, a storage
folder of its own, mail kept rather than sent, and a clock that runs ahead of real time when its
timers are fired on demand (``engine.sandbox._world``). The version is deployed and published
there, a case started with the officer's sample data, and its user tasks done as sandbox people
who hold the roles the tasks need. Nothing of it reaches the real database: no case, task, timer,
recording or audit event. Only starting, discarding and expiring a run are recorded in the real
audit trail, as governance actions without a case.

Only a stored version can be test-run: a draft with problems has none, so it must be fixed first.
A run belongs to the governance officer who started it; nobody else (governance included) can
open, act on or discard it. Runs are deleted ``sandbox_keep`` (7 days, ``CALLGOV_SANDBOX_KEEP_DAYS``)
after they start, by the scheduler's ``sandbox.clean_up`` job and whenever a run starts.
"""

from engine.sandbox._facade import SandboxMixin, TestRunSummary, TestRunTask, TestRunView
from engine.sandbox._store import SandboxMail
from engine.sandbox._world import USER_PREFIX

__all__ = ["USER_PREFIX", "SandboxMail", "SandboxMixin", "TestRunSummary", "TestRunTask", "TestRunView"]
