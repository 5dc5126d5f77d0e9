"""The ``latentsearch`` command line: the parser, the commands, the demo."""
