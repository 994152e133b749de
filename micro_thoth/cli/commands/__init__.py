"""One module per ``thoth-pip`` subcommand; each defines ``command`` (a click command)."""
