"""The workflow runtime: definitions as data, named guards and actions, one way to move.

Import `app.engine.runtime` for `fire` and `available_transitions`, `app.engine.loader`
to read the definition files.
"""
