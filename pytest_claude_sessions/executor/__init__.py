"""The CLI process: option table and argv, running it with bounded output, outcomes, locating the binary,
isolation, ClaudeExecutor.
"""
