"""refmail: turns the introductions you make by email into follow-ups that keep referrals alive.

See README.md for what it does and DESIGN notes; modules are flat, one job each.
"""

__version__ = "0.1.0"
