"""Record and replay: modes, cassette files, the matching table, scrubbing, the recorder shared by the
executor and the interposed claude.
"""
