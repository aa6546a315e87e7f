"""Settings for a server a test starts that must also serve the test-only URLs (tests.error_urls):
the project's settings, nothing else changed."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.error_urls"
