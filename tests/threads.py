"""Threads whose failures fail the test: an exception in the thread is re-raised by join()."""

import threading

from django.db import connection


class Thread(threading.Thread):
    """Runs `target(*args)` with its own database connection (closed at the end); join() returns
    its result, or raises what it raised, or fails the test if it is still running."""

    def __init__(self, target, *args):
        super().__init__(daemon=True)
        self._call, self._args = target, args
        self.result, self.error = None, None

    def run(self):
        try:
            self.result = self._call(*self._args)
        except BaseException as error:  # re-raised in the test's thread by join()
            self.error = error
        finally:
            connection.close()

    def join(self, timeout: float = 60.0):
        super().join(timeout)
        assert not self.is_alive(), f"{self._call.__name__} still running after {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result
