"""One module per `nas-search` verb: `HELP`, `add_arguments(parser)`, `main(args) -> int`."""
