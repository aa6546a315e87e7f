"""A pytest plugin loaded first (`-p tests.devmode` in pyproject.toml), before pytest-django reads
the settings: the tests run the app in development mode, which is opted into, never the default
(issue 13 #19). Every server a test starts inherits it, unless the test says DJANGO_DEBUG=0."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
