# Copyright (c) mmdense contributors. All rights reserved.
"""Capture what mmengine logs through the current ``MMLogger``."""
import logging

from mmengine.logging import MMLogger


class LogCapture(logging.Handler):
    """``with LogCapture() as logs:`` collects ``logs.messages``."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)

    def mismatches(self):
        """Messages about missing / unexpected / mismatched checkpoint keys."""
        return [m for m in self.messages if 'do not match' in m or 'missing keys' in m
                or 'unexpected key' in m]
