"""Lab sandboxes on Docker through aiodocker.

Not built yet: no issue has asked for it.
"""
