"""Common questions typed as free text: which topic a message asks about, by its keywords."""

from __future__ import annotations

import re


def _keywords(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Checked in this order: the most specific question wins ("what to bring for a lost card" is
# about a lost card, "how much is a KTP" about cost, plain "cara bikin ktp" about recording).
TOPICS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "lost",
        _keywords(
            "hilang ilang kehilangan lost missing stolen dicuri kecurian rusak patah pecah"
            " retak mengelupas ngelupas luntur damaged broken cracked peeling replace"
            " replacement ganti penggantian"
        ),
    ),
    (
        "cost",
        _keywords(
            "biaya bayar membayar berbayar gratis harga tarif ongkos pungutan pungli cost"
            " costs fee fees free pay price charge"
        ),
    ),
    (
        "hours",
        _keywords(
            "jam buka tutup kapan hari libur sabtu minggu hours open opening close closed when time"
        ),
    ),
    (
        "where",
        _keywords(
            "dimana dmn mana lokasi alamat kantor tempat where location locations address"
            " office place"
        ),
    ),
    (
        "bring",
        _keywords(
            "syarat persyaratan bawa dibawa membawa berkas dokumen perlu butuh bring"
            " requirements requirement documents document need needed"
        ),
    ),
    (
        "record",
        _keywords(
            "ktp e-ktp ektp ktp-el ktpel rekam perekaman merekam direkam bikin buat membuat"
            " cara daftar record recording register make card"
        ),
    ),
)

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def match_topic(text: str) -> str | None:
    """The topic of the first group with a keyword in `text`, or None when nothing matches."""
    words = set(_WORD.findall(text.lower()))
    words |= {part for word in words for part in word.split("-")}
    words |= {word.removesuffix("nya") for word in words}  # syaratnya, bayarnya, jamnya
    for topic, keywords in TOPICS:
        if words & keywords:
            return topic
    return None
