"""Sending: the job database's pending rows → the target API, through one limiter.

`client` owns HTTP, retries and the rate limiter; `minimo` and `notifuse` turn batches of
rows into requests and responses into per-row outcomes; `engine` runs them concurrently
and commits every acknowledgement to the journal.
"""
