"""The server's settings: `settings.py` (Config, every limit in one frozen value),
`options.py` (the command line) and `file.py` (the same options from a TOML file).
Nothing else reads flags, the environment or the config file."""
