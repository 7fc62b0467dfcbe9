"""The CLI's transcripts: locating and scanning them, continuity verdicts, SessionValidator."""
