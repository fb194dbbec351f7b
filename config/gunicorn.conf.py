# gunicorn settings for a node in production:
#   gunicorn -c config/gunicorn.conf.py account_node.wsgi:app
import os

bind = os.environ.get("TRUSTDESK_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("TRUSTDESK_WORKERS", "2"))
worker_class = "gthread"
# One thread per call in flight, a live inbox stream's whole life included: more than
# the node's inbox_streams_per_process (TRUSTDESK_INBOX_STREAMS_PER_PROCESS, 24).
threads = int(os.environ.get("TRUSTDESK_SERVER_THREADS", "32"))
timeout = 60
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("TRUSTDESK_FORWARDED_ALLOW_IPS", "127.0.0.1")
