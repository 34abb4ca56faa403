"""Introductions and referrals as raw bytes (CRLF line ends, as on the wire), dated as a test
needs: the owner introducing two people, a partner referring a client to the owner, and numbered
referrals from distinct partners (one thank-you each, so caps never merge them)."""

from __future__ import annotations

import email.utils
from datetime import datetime

from tests.support.mailbox import OWNER, REFMAIL


def rfc_date(at: datetime) -> str:
    """`at` as an RFC 5322 Date header value."""
    return email.utils.format_datetime(at)


def owner_intro(at: datetime) -> bytes:
    """The owner introduces Alice and Bob, both in To/Cc, and BCCs refmail."""
    return f"""\
Delivered-To: {REFMAIL}
Return-Path: <{OWNER}>
From: Olivia Owner <{OWNER}>
To: Alice Archer <alice@archer-design.example>
Cc: Bob Baker <bob@bakervideo.example>
Subject: Intro: Alice <> Bob (product videos)
Date: {rfc_date(at)}
Message-ID: <CAOwner-intro-1@mail.example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi Alice,

I'd like to introduce you to Bob Baker. Bob makes the short product videos you
were asking about last week.

Bob, Alice runs Archer Design and is relaunching her studio's site in January.

I'll let you two take it from here.

Olivia
""".replace("\n", "\r\n").encode()


def partner_referral(at: datetime) -> bytes:
    """A partner introduces a new client to the owner (owner in To, client in Cc)."""
    return f"""\
Delivered-To: {OWNER}
Return-Path: <pat@partnerlaw.example>
From: Pat Partner <pat@partnerlaw.example>
To: Olivia Owner <{OWNER}>
Cc: Carol Chen <carol@chenconsulting.example>
Subject: Introduction: Olivia, meet Carol Chen
Date: {rfc_date(at)}
Message-ID: <20261117.pat-referral-1@partnerlaw.example>
References: <earlier-thread-1@partnerlaw.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Olivia, meet Carol.

Carol is expanding her consulting firm into Europe and needs someone to run her
marketing there. I told her you are the best I know, so I wanted to connect you two.

Best,
Pat
""".replace("\n", "\r\n").encode()


def numbered_referral(i: int, at: datetime) -> bytes:
    """Partner i introduces client i to the owner: one thank-you to partner i."""
    return f"""\
Delivered-To: {OWNER}
From: Pat Partner{i} <pat{i}@partner{i}.example>
To: Olivia Owner <{OWNER}>
Cc: Carol Chen{i} <carol{i}@client{i}.example>
Subject: Introduction: Olivia, meet Carol Chen{i}
Date: {rfc_date(at)}
Message-ID: <referral-{i}@partner{i}.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Olivia, meet Carol.

Carol is expanding her consulting firm into Europe and needs someone to run her
marketing there. I told her you are the best I know, so I wanted to connect you two.

Best,
Pat
""".replace("\n", "\r\n").encode()
