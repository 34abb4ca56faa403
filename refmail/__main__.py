"""`python -m refmail`: the same as the `refmail` command."""

from refmail.cli import main

main()
