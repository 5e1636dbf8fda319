"""Sending: the one transport every call goes through, auth headers, retry rules, rate limits, the watchdog.

Kept import-light on purpose: `transport.sender` (requests, urllib3) loads only when a call is sent.
"""
