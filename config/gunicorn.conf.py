# gunicorn settings for a node in production:
#   gunicorn -c config/gunicorn.conf.py account_node.wsgi:app
# The same options as `trustdesk serve` (account_node.server.gunicorn_options: gthread
# workers, the request-line limit, keep-alive longer than peers', rebalancing kept-alive
# connections), with where to listen and how many workers and threads from the
# environment, an access log, and the proxy trusted for X-Forwarded-* headers.
import os

from account_node.server import gunicorn_options

_bind = os.environ.get("TRUSTDESK_BIND", "0.0.0.0:8000")
_host, _, _port = _bind.rpartition(":")
# One thread per call in flight, a live inbox stream's whole life included: more than
# the node's inbox_streams_per_process (TRUSTDESK_INBOX_STREAMS_PER_PROCESS, 24).
_options = gunicorn_options(
    _host,
    int(_port),
    int(os.environ.get("TRUSTDESK_WORKERS", "2")),
    int(os.environ.get("TRUSTDESK_SERVER_THREADS", "32")),
)
_options.update(
    graceful_timeout=20,
    accesslog="-",
    loglevel="info",
    forwarded_allow_ips=os.environ.get("TRUSTDESK_FORWARDED_ALLOW_IPS", "127.0.0.1"),
)
globals().update(_options)
