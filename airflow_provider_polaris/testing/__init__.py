"""Local Polaris emulator: an offline Polaris API server for demos, tests and users' DAG tests."""
