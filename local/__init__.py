"""Kefu's local gateway: development and tests only, never packaged into a Lambda."""
