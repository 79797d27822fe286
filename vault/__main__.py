"""`python -m vault` runs the talkvault command line."""

from vault.cli import main

if __name__ == "__main__":
    main()
