"""WSGI entry point for gunicorn in deployments: settings from the environment."""

from account_node.app import create_app

app = create_app()
