"""Server plumbing every app stands on: the settings accessor, permissions, checks and the error shape."""
