"""One user action = one function: the stages wired together with explicit arguments.

``pipeline.sync`` installs a lock, ``pipeline.lock`` resolves one, and so on; each
module here owns one family of actions and does the file I/O the stages avoid.
"""
