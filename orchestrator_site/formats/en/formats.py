"""Times as the dashboard and status.json show them, to the second ("2026-12-01 10:53:28"), not "Dec. 1, 2026, 10:53 a.m."

Django 5 always localises dates in templates and the admin; this is the format module it takes for "en"
(settings.FORMAT_MODULE_PATH).
"""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
