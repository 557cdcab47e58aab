"""What `r1pipe report` is made of, one job per module:

- ``claims``: the paper's findings judged on eval numbers against their standard errors (pure functions);
- ``lineage``: what the report reads from the stages' files (eval metrics, manifests, run logs, dvclive's curves);
- ``render``: the markdown page, its tables and plots.

``r1pipe.stages.report`` wires them into the stage.
"""
