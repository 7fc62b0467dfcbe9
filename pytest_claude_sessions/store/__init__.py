"""The session store: the append-only journal, SessionTracker, SessionManager, SessionMonitor, run
directories.
"""
