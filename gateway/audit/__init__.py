"""Audit: a course's history, its state at any point rebuilt by the domain, tamper evidence over
the log, signed seals, and exports an auditor can check offline."""
