"""`python manage.py <command>` entry points of the API app."""
