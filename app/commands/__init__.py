"""One module per `wabox` subcommand, each with `run(args) -> int`."""
