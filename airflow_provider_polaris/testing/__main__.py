"""``python -m airflow_provider_polaris.testing serve``: run the emulator from the command line."""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``polaris-emulator`` console script."""
    raise SystemExit("emulator not built yet")


if __name__ == "__main__":
    main()
