"""Salutations, address blocks and file names."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, strategies as st

from kdigital import addressing
from kdigital.roster import Municipality

BASE = Municipality("06534012", "Lahntal", "Gemeinde", "Bürgermeister", "", "Max", "Muster", "Rathausstraße 1",
                    "35094", "Lahntal", "a@example.org", "E-Mail und Post", 6953, True, True, False, None, None, 2)


def make(**changes) -> Municipality:
    return dataclasses.replace(BASE, **changes)


@pytest.mark.parametrize(
    "office, title, salutation, address",
    [
        ("Bürgermeister", "", "Sehr geehrter Herr Bürgermeister Muster,", "Herrn Bürgermeister"),
        ("Bürgermeister", "Dr.", "Sehr geehrter Herr Bürgermeister Dr. Muster,", "Herrn Bürgermeister"),
        ("Bürgermeisterin", "", "Sehr geehrte Frau Bürgermeisterin Muster,", "Frau Bürgermeisterin"),
        ("Bürgermeisterin", "Dr.", "Sehr geehrte Frau Bürgermeisterin Dr. Muster,", "Frau Bürgermeisterin"),
        ("Oberbürgermeister", "", "Sehr geehrter Herr Oberbürgermeister Muster,", "Herrn Oberbürgermeister"),
        ("Oberbürgermeister", "Dr.", "Sehr geehrter Herr Oberbürgermeister Dr. Muster,", "Herrn Oberbürgermeister"),
        ("Oberbürgermeisterin", "", "Sehr geehrte Frau Oberbürgermeisterin Muster,", "Frau Oberbürgermeisterin"),
        ("Oberbürgermeisterin", "Prof. Dr.", "Sehr geehrte Frau Oberbürgermeisterin Prof. Dr. Muster,",
         "Frau Oberbürgermeisterin"),
    ],
)
def test_salutation_and_address_for_every_office(office, title, salutation, address):
    m = make(office=office, title=title)
    assert addressing.salutation(m) == salutation
    lines = addressing.address_lines(m)
    assert lines[1] == address
    assert lines[2] == " ".join(p for p in (title, "Max Muster") if p)


@pytest.mark.parametrize(
    "kind, authority",
    [
        ("Gemeinde", "Gemeindevorstand der Gemeinde Lahntal"),
        ("Stadt", "Magistrat der Stadt Lahntal"),
        ("Universitätsstadt", "Magistrat der Universitätsstadt Lahntal"),
    ],
)
def test_authority_by_kind(kind, authority):
    assert addressing.address_lines(make(kind=kind))[0] == authority


def test_email_only_is_noted_in_the_address():
    assert addressing.address_lines(make(channel="E-Mail"))[-1] == "(nur per E-Mail)"
    assert addressing.address_lines(make(channel="Post"))[-1] == "35094 Lahntal"
    assert len(addressing.address_lines(make(channel="E-Mail"))) <= 6


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Neustadt (Hessen)", "neustadt-hessen"),
        ("Münchhausen", "muenchhausen"),
        ("Cölbe", "coelbe"),
        ("Weimar (Lahn)", "weimar-lahn"),
        ("Frankfurt am Main, Stadt", "frankfurt-am-main-stadt"),
        ("Halle/Saale", "halle-saale"),
        ("Groß-Gerau", "gross-gerau"),
        ("((()))", "kommune"),
    ],
)
def test_slug(name, expected):
    assert addressing.slug(name) == expected


@given(st.text(max_size=200))
def test_slug_is_always_a_safe_file_name(name):
    slug = addressing.slug(name)
    assert slug and len(slug) <= 60
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
