"""Live dashboard pages: Django templates and a little JavaScript over the public REST API and streams."""
