# One image for every role of a node: migrations, the web server and the worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY account_node ./account_node
COPY trust ./trust
COPY services ./services
COPY portal ./portal
COPY config ./config
RUN pip install . && useradd --create-home --uid 10001 trustdesk \
    && mkdir -p /var/lib/trustdesk && chown trustdesk /var/lib/trustdesk
USER trustdesk
ENV TRUSTDESK_DATA_DIR=/var/lib/trustdesk
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "account_node.wsgi:app"]
