"""Reading stored runs and showing them: the run model, chain graphs, merging stores, the HTML report and
the regression gate. Pure (no pytest hooks): the plugin and the ``claude-sessions`` command share it.
"""
