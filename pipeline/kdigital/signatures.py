"""Digital signatures in PDFs: whether a PDF is signed, by whom, and whether it changed since.

A PDF is signed when a form field's value has a ``/ByteRange`` (signature and
document time stamp alike). Signer names come from ``/Name`` and from the
certificates in the CMS signature (``/Contents``); the signer's certificate is
the one in the chain that issued no other. The signature is not validated
cryptographically here: that is for the archivist's signature tool, on the
unaltered original.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    """The digital signatures of a PDF."""

    count: int
    signers: tuple[str, ...]  # from the certificates (and /Name), where readable
    end: int  # where the byte ranges of the signatures end, at the latest
    size: int  # of the file

    @property
    def covers_whole_file(self) -> bool:
        """False when the file was changed or extended after the last signature."""
        return self.end == self.size

    @property
    def beyond_end(self) -> bool:
        """True when a signature covers bytes the file does not have: it was cut off."""
        return self.end > self.size

    def describe(self) -> str:
        who = ", ".join(self.signers) if self.signers else "Unterzeichner nicht lesbar"
        text = f"digital signiert ({self.count} Signatur{'en' if self.count > 1 else ''}: {who})"
        if not self.covers_whole_file:
            text += "; nach der letzten Signatur verändert"
        return text


def read_signature(reader, size: int) -> Signature | None:
    """The signatures of a PDF open in pypdf ``reader`` (``size``: of its file), or None when it has none."""
    root = reader.trailer["/Root"]
    form = root.get("/AcroForm")
    if form is None:
        return None
    stack = list(form.get_object().get("/Fields") or [])
    seen: set[int] = set()
    values = []
    while stack:
        item = stack.pop()
        key = id(item) if not hasattr(item, "idnum") else item.idnum
        if key in seen:
            continue
        seen.add(key)
        node = item.get_object()
        stack.extend(node.get("/Kids") or [])
        value = node.get("/V")
        if value is not None and hasattr(value.get_object(), "get") and "/ByteRange" in value.get_object():
            values.append(value.get_object())
    if not values:
        return None
    signers: list[str] = []
    ends = []
    for value in values:
        ranges = [int(x) for x in value["/ByteRange"]]
        ends.append(ranges[-2] + ranges[-1] if len(ranges) >= 4 else 0)
        if "/Name" in value and str(value["/Name"]).strip():
            signers.append(str(value["/Name"]).strip())
        contents = value.get("/Contents")
        if contents is not None:
            raw = getattr(contents, "original_bytes", None) or bytes(contents)
            signers += certificate_names(raw)
    return Signature(len(values), tuple(dict.fromkeys(signers)), max(ends), size)


def certificate_names(contents: bytes) -> list[str]:
    """Common names of the signing certificates in a CMS signature (PDF /Contents); [] when unreadable."""
    try:
        from cryptography.hazmat.primitives.serialization import pkcs7
        from cryptography.x509.oid import NameOID

        certificates = pkcs7.load_der_pkcs7_certificates(_der_prefix(contents))
    except Exception:  # any unreadable signature: the names are simply unknown
        return []
    # The signer's certificate is the one that issued no other certificate in the chain.
    leaves = [c for c in certificates if not any(o is not c and o.issuer == c.subject for o in certificates)]
    names = []
    for cert in leaves or certificates:
        for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            names.append(str(attribute.value))
    return names


def _der_prefix(data: bytes) -> bytes:
    """The DER object at the start of ``data``, without the zero padding of the PDF placeholder."""
    if len(data) < 2 or data[0] != 0x30:
        raise ValueError("keine DER-Struktur")
    first = data[1]
    if first < 0x80:
        return data[:2 + first]
    count = first & 0x7F
    length = int.from_bytes(data[2:2 + count], "big")
    return data[:2 + count + length]
