# gunicorn settings for a node in production:
#   gunicorn -c config/gunicorn.conf.py account_node.wsgi:app
import os

bind = os.environ.get("TRUSTDESK_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("TRUSTDESK_WORKERS", "2"))
worker_class = "gthread"
threads = 8
timeout = 60
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("TRUSTDESK_FORWARDED_ALLOW_IPS", "127.0.0.1")
