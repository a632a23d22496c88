"""Response and query serializers: the documented wire shapes of the REST API."""
