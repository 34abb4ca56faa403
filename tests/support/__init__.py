"""What refmail's tests and benches share, in the way aiosmtpd ships ``aiosmtpd.testing``.

Real servers on loopback and the mail, accounts and configurations to feed them. A test module
(``tests/test_*.py``) imports from here, never from another test module; a bench
(``python3 -m bench.NAME`` from the repository root) imports from here too.

- ``dovecot``: a private, throw-away Dovecot IMAP server, its pytest fixtures, and reading a folder.
- ``smtp_sink``: a real SMTP server (aiosmtpd) that records what it accepts and can show faults.
- ``oauth_server``: a local OAuth2 provider (token and introspection endpoints).
- ``webserver``: refmail's web app served by uvicorn in a thread.
- ``mailbox``: the owner and refmail addresses, a fresh referral, the TOML of an IMAP account.
- ``messages``: introductions and referrals as raw bytes, dated as a test needs.
- ``maildirs``: a local Maildir account filled with introductions, for tests that need no server.
- ``cli``: the ``refmail`` command run in process, as a test runs it.
- ``doctor``: reading ``refmail doctor``'s verdict lines.
- ``drafts``: a follow-up draft for the renderer, and the rendered message read back.
- ``world``: a Maildir account with two introductions synced, and the replies and bounces fed to it.
- ``web``: the web tests' signing keys, one-click body and an SMTP server keeping the link mail.
- ``daemon``: ``refmail run`` as a real process, its config and database, and their fixtures.
- ``loop``: the referral loop through a Maildir sync: a partner's referral, outcome rules, syncing.
- ``browser``: headless Chromium (the ``browser`` fixture) and a checked page (``Tab``).
- ``outbox``: the follow-ups a run left in its database, read back.
- ``mailgen``: realistic synthetic mailboxes, deterministic for a seed (scale tests and benches).
"""
