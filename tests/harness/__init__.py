# Copyright (c) mmdense contributors. All rights reserved.
"""Helpers shared by the tests (not collected: no ``test_`` prefix)."""
