"""The distributed engine (``engine: {kind: celery}``, docs/scale.md): a run planned in the
history store's ledger, one Celery task per account, a finalize that writes the reports once.

``plan`` (plan a run, requeue what a dead worker left), ``account`` (audit one account for a
task), ``finalize`` (the run's reports, client runs and notifications, once) do the work and
know nothing of Celery; ``app`` and ``tasks`` are the Celery side: the app made from the config
and the tasks that call them. ``context`` is what a worker process keeps between tasks.

Part of the face (the layer of ``cli_*``): may import the commands' shared helpers
(``cli_common``, ``cli_runs``), the engine, fetch, the store, the writers and the config;
``cli_distributed`` and ``cli_schedule`` import it. Celery is imported only in ``app`` and
``tasks``.
"""
