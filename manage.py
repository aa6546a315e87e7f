#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError:
        sys.exit(
            "Django is not installed for this Python "
            f"({sys.executable}). Use the project's virtualenv: `make run` creates it in .venv; "
            "then run `.venv/bin/python manage.py ...` (or `. .venv/bin/activate` first)."
        )

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
