"""Tornado handlers: thin layers that turn a request into one service call and the result into JSON."""
