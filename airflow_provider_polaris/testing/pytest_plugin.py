"""pytest plugin (entry point ``pytest11``) that provides the ``polaris_emulator`` fixture."""
