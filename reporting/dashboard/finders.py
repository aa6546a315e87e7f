"""Serve plotly.js from the installed `plotly` package, as a static file of this project.

The `plotly` wheel ships the browser bundle (package_data/plotly.min.js). This finder exposes that
one file as `dashboard/vendor/plotly.min.js` to staticfiles (runserver, the test live server,
collectstatic and WhiteNoise in production): nothing is loaded from a CDN and nothing is copied
into the repository. Upgrading plotly with pip upgrades the chart code.
"""

import os
from importlib.util import find_spec

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PREFIX = "dashboard/vendor"
FILES = ("plotly.min.js",)
PLOTLY_JS = f"{PREFIX}/plotly.min.js"


def package_data_dir() -> str | None:
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "package_data")


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.location = package_data_dir()
        self.storage = FileSystemStorage(location=self.location or "")
        self.storage.prefix = PREFIX  # collectstatic puts the files under this prefix

    def check(self, **kwargs):
        if self.location is None or not os.path.isfile(os.path.join(self.location, FILES[0])):
            return [
                Error(
                    "The plotly package (with plotly.min.js) is not installed.", id="dashboard.E001"
                )
            ]
        return []

    def find(self, path, find_all=False, **kwargs):
        find_all = find_all or kwargs.get("all", False)
        matches = []
        if self.location is not None and path.startswith(PREFIX + "/"):
            name = path.removeprefix(PREFIX + "/")
            candidate = os.path.join(self.location, name)
            if name in FILES and os.path.isfile(candidate):
                matches.append(candidate)
        if find_all:
            return matches
        return matches[0] if matches else []

    def list(self, ignore_patterns):
        if self.location is None:
            return
        for name in FILES:
            yield name, self.storage
