"""relaykit on Celery (`pip install 'relaykit[celery]'`): operations and automations as tasks, by reference.

    from celery import Celery
    from relaykit.celery import RelaykitTasks

    app = Celery("jobs", broker="redis://127.0.0.1:6379/0")
    relaykit = RelaykitTasks(app)
    relaykit.enqueue("customerio-track.track_event", event, connection="prod")

See docs/scaling.md for the guarantees and what each rests on.
"""

from .claims import RedisClaims
from .connections import for_broker, on_worker
from .tasks import RUN, RUN_AUTOMATION, NotResentError, RelaykitTasks, default_runtime

__all__ = ["RUN", "RUN_AUTOMATION", "NotResentError", "RedisClaims", "RelaykitTasks", "default_runtime",
           "for_broker", "on_worker"]
