#!/usr/bin/env bash
# Render an `xinlian bench` report in headless Chromium and check that the picture is not blank.
#
#   scripts/check-bench-report.sh DIR        (DIR holds report.html; writes DIR/report.png)
#
# Installs Debian's `chromium` when it is missing, through scripts/setup.sh. The page must render
# with no network: it is self-contained, and Chromium is started with its background fetches
# switched off. Exit status 0 when DIR/report.png
# exists and shows a real page (many distinct colours, most of the height drawn on), 1 otherwise.
set -euo pipefail

say() { printf 'check-bench-report: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR (the --out directory of xinlian bench)"
dir=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
html="$dir/report.html"
png="$dir/report.png"
[ -f "$html" ] || die "no report.html in $dir (run: xinlian bench --out $dir)"

find_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
browser=$(find_chromium)
if [ -z "$browser" ]; then
    # The project's one installer, asked for one more package.
    bash "$(dirname "${BASH_SOURCE[0]}")/setup.sh" chromium || die "could not install chromium"
    browser=$(find_chromium)
    [ -n "$browser" ] || die "chromium installed but not on PATH"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed to inspect the screenshot"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$png"
say "rendering $html with $browser"
# --virtual-time-budget lets the page settle before the shot; nothing on it loads anyway.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --virtual-time-budget=2000 \
    --user-data-dir="$profile" --screenshot="$png" --window-size=1280,2400 \
    "file://$html" >"$profile/chromium.log" 2>&1 \
    || { tail -20 "$profile/chromium.log" >&2; die "chromium failed to render $html"; }
[ -s "$png" ] || { tail -20 "$profile/chromium.log" >&2; die "chromium wrote no screenshot at $png"; }

# Decode the PNG with the standard library alone (PIL may be absent): 8-bit RGB or RGBA,
# non-interlaced, as Chromium writes it. A blank page has one or two colours; a drawn report
# has text, axes, plots and tables in dozens, and ink down most of its height.
python3 - "$png" <<'PY'
import struct, sys, zlib

path = sys.argv[1]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{path}: not a PNG")
pos, idat, header = 8, [], None
while pos < len(data):
    (length,) = struct.unpack(">I", data[pos:pos + 4])
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
    pos += 12 + length
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
if header is None:
    sys.exit(f"{path}: no IHDR chunk")
width, height, depth, colour, _, _, interlace = header
channels = {2: 3, 6: 4}.get(colour)
if depth != 8 or channels is None or interlace != 0:
    sys.exit(f"{path}: unexpected PNG format (depth {depth}, colour type {colour}, interlace {interlace})")
raw = zlib.decompress(b"".join(idat))
stride = width * channels
rows, prev, i = [], bytearray(stride), 0
for _ in range(height):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - channels] if x >= channels else 0
        b = prev[x]
        c = prev[x - channels] if x >= channels else 0
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
colours, inked = set(), 0
background = rows[0][:3]
for row in rows:
    pixels = {row[x:x + 3] for x in range(0, stride, channels)}
    colours |= pixels
    if len(pixels) > 1 or background not in pixels:
        inked += 1
print(f"{path}: {width}x{height}, {len(colours)} distinct colours, {inked} of {height} rows drawn on")
if len(colours) < 16:
    sys.exit(f"{path}: looks blank ({len(colours)} colours)")
if inked < height // 4:
    sys.exit(f"{path}: mostly empty ({inked} of {height} rows drawn on)")
PY
say "ok: $png"
