#!/usr/bin/env python3
"""Independent checks of grad-instructor's report output, run by tests/report.rs.

usage: python3 tests/png_decodes.py MANIFEST.json

The manifest lists
  "png": [{"path", "width", "height", "mode" ("RGB" or "L"), "raw": path of the expected
           pixel bytes, row-major}]
  "svg": [{"path", "contains": [strings that must appear in the text content]}]
PNGs are decoded with Pillow (PIL) when it is installed (verify() checks every chunk CRC, then
the pixels are compared byte for byte); SVGs are parsed with xml.etree (standard library), which
rejects any file that is not well-formed XML. Prints one line per file; exits 1 on the first
failure, with the reason.
"""
import json
import sys
import xml.etree.ElementTree as ET

SVG_NS = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check_png(entry, Image):
    path = entry["path"]
    with Image.open(path) as im:
        im.verify()  # chunk CRCs and structure
    with Image.open(path) as im:
        im.load()
        if im.format != "PNG":
            fail(f"{path}: format {im.format}")
        if im.size != (entry["width"], entry["height"]):
            fail(f"{path}: size {im.size}, expected {(entry['width'], entry['height'])}")
        if im.mode != entry["mode"]:
            fail(f"{path}: mode {im.mode}, expected {entry['mode']}")
        with open(entry["raw"], "rb") as f:
            raw = f.read()
        got = im.tobytes()
        if got != raw:
            first = next(i for i in range(min(len(got), len(raw))) if got[i] != raw[i]) \
                if len(got) == len(raw) else None
            fail(f"{path}: pixels differ (len {len(got)} vs {len(raw)}, first diff at {first})")
    print(f"ok png {path} {entry['width']}x{entry['height']} {entry['mode']}")


def check_svg(entry):
    path = entry["path"]
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path}: not well-formed XML: {e}")
    if root.tag != SVG_NS + "svg":
        fail(f"{path}: root element {root.tag}, expected {SVG_NS}svg")
    text = "".join(root.itertext())
    for s in entry.get("contains", []):
        if s not in text:
            fail(f"{path}: text content lacks {s!r}")
    print(f"ok svg {path}")


def main():
    if len(sys.argv) != 2:
        fail("usage: png_decodes.py MANIFEST.json")
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    try:
        from PIL import Image
    except ImportError:
        Image = None
        print("note: Pillow not installed; PNG decoding skipped (pip install pillow)")
    if Image is not None:
        for entry in manifest.get("png", []):
            check_png(entry, Image)
    for entry in manifest.get("svg", []):
        check_svg(entry)
    print("png_decodes.py: all checks passed")


if __name__ == "__main__":
    main()
