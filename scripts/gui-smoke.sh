#!/usr/bin/env bash
# End-to-end run of the desktop app without a screen: seer-gui --script drives it through
# Classify (golden ResNet-8, CIFAR-10 labels, random weights; then the shipped Agent-DeiT with
# its attention view, and a click on a patch that picks the view's query), a file that is not an image,
# Segment, and Generate (the tiny ENAT + VQGAN golden pair, when present), writing screenshots
# and generated PNGs that are then checked: the screenshots must not be blank, the PNGs must
# carry their settings, and each saved PNG must equal, pixel for pixel, what `seer generate`
# makes from the same settings and seed.
#
#   scripts/gui-smoke.sh [BUILD_DIR]      (default: build; builds seer-gui there if missing)
#   GUI_SMOKE_XVFB=1 scripts/gui-smoke.sh (under Xvfb instead of SDL's offscreen driver)
#   GUI_SMOKE_OUT=DIR                     (keep the outputs there; default: a temp folder)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${SEER_DATA:-../shared/data}

if [[ ! -x $build/seer-gui || ! -x $build/seer ]]; then  # seer: the PNG comparison
  cmake -S . -B "$build" > /dev/null
  cmake --build "$build" -j"$(nproc)" --target seer-gui seer > /dev/null
fi

out=${GUI_SMOKE_OUT:-$(mktemp -d)}
mkdir -p "$out/images"
[[ -n ${GUI_SMOKE_OUT:-} ]] || trap 'rm -rf "$out"' EXIT

# Images: two CIFAR-10 test JPEGs when the shared data is here, else made up on the spot
# (binary PPM, which seer decodes), plus a file that only pretends to be one.
if [[ -f $data/cifar10/test/cat/0000.jpg && -f $data/cifar10/test/ship/0001.jpg ]]; then
  cp "$data/cifar10/test/cat/0000.jpg" "$out/images/a_cat.jpg"
  cp "$data/cifar10/test/ship/0001.jpg" "$out/images/b_ship.jpg"
else
  for name in a_noise b_noise; do
    { printf 'P6\n32 32\n255\n'; head -c 3072 /dev/urandom; } > "$out/images/$name.ppm"
  done
fi
printf '<html>not an image</html>\n' > "$out/broken.jpg"

gen=""
if [[ -f tests/golden/enat_tiny.weights.safetensors && -f tests/golden/vqgan_tiny.weights.safetensors ]]; then
  gen=yes
fi

cat > "$out/smoke.script" <<EOF
model tests/golden/resnet8_cifar.weights.safetensors
open $out/images
wait
expect classified
expect no-error
stats
screenshot $out/classify.png
next
wait
expect classified
attention on
screenshot $out/classify_next.png
EOF
if [[ -f assets/models/agent_cifar.safetensors ]]; then
  attn=yes
  # the image is drawn at x 172..734, y 144..706 in a 1280x800 window: (300, 600) is a patch
  # in its lower left
  cat >> "$out/smoke.script" <<EOF
model assets/models/agent_cifar.safetensors
wait
expect attention
screenshot $out/attention.png
click 300 600
wait
expect attention
stats
screenshot $out/attention_query.png
attention off
EOF
else
  attn=""
  echo "gui-smoke: no shipped agent_cifar model; the attention view is not checked"
fi
cat >> "$out/smoke.script" <<EOF
open $out/broken.jpg
wait
expect error
screenshot $out/error.png
click 368 27
expect mode generate
click 168 27
expect mode classify
mode segment
screenshot $out/segment.png
EOF
if [[ -n $gen ]]; then
  cat >> "$out/smoke.script" <<EOF
generator tests/golden/enat_tiny.weights.safetensors tests/golden/vqgan_tiny.weights.safetensors
wait
generate class=goldfish seed=3 steps=4 count=4
wait
expect results 4
select 0
select 2
screenshot $out/generate.png
save $out/saved
EOF
else
  echo "gui-smoke: no tiny generator goldens; checking the 'not available' page only"
  echo "mode generate" >> "$out/smoke.script"
  echo "screenshot $out/generate.png" >> "$out/smoke.script"
fi
echo "quit" >> "$out/smoke.script"

run=(env SDL_VIDEODRIVER=offscreen)
[[ -n ${GUI_SMOKE_XVFB:-} ]] && run=(xvfb-run -a -s "-screen 0 1600x1000x24")
"${run[@]}" "$build/seer-gui" --size 1280x800 --script "$out/smoke.script" | tee "$out/stdout.txt"

# Screenshots: present, the window's size, and not blank (pixel variance well above a flat
# colour's). Generated PNGs: their settings in text chunks. Standard-library Python only.
python3 - "$out" "$gen" "$build/seer" "$attn" <<'EOF'
import os, struct, subprocess, sys, zlib

def read_png(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n', f'{path}: not a PNG'
    i, idat, text = 8, b'', {}
    while i < len(b):
        n, kind = struct.unpack('>I', b[i:i + 4])[0], b[i + 4:i + 8]
        data = b[i + 8:i + 8 + n]
        if kind == b'IHDR':
            w, h, depth, color = struct.unpack('>IIBB', data[:10])
        elif kind == b'IDAT':
            idat += data
        elif kind == b'tEXt':
            k, v = data.split(b'\0', 1)
            text[k.decode()] = v.decode('latin-1')
        i += 12 + n
    assert depth == 8 and color in (0, 2, 6), f'{path}: unexpected PNG format'
    bpp = {0: 1, 2: 3, 6: 4}[color]
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            c = prev[x - bpp] if x >= bpp else 0
            p = a + prev[x] - c
            pa, pb, pc = abs(p - a), abs(p - prev[x]), abs(p - c)
            pred = [0, a, prev[x], (a + prev[x]) // 2,
                    a if pa <= pb and pa <= pc else prev[x] if pb <= pc else c][f]
            line[x] = (line[x] + pred) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows, text

out, gen, seer, attn = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
for name in ['classify', 'classify_next', 'error', 'segment', 'generate'] + (['attention', 'attention_query'] if attn else []):
    w, h, bpp, rows, _ = read_png(os.path.join(out, name + '.png'))
    assert (w, h) == (1280, 800), f'{name}.png is {w}x{h}, expected 1280x800'
    lum = [sum(r[x:x + 3]) / 3 for r in rows[::4] for x in range(0, w * bpp, 4 * bpp)]
    mean = sum(lum) / len(lum)
    var = sum((v - mean) ** 2 for v in lum) / len(lum)
    assert var > 50, f'{name}.png looks blank (luminance variance {var:.1f})'
    print(f'gui-smoke: {name}.png {w}x{h}, luminance variance {var:.0f}')
if attn:
    # The overlay changes the image's pixels (x 172..734, y 144..706), and the picked query
    # changes the overlay.
    def image_area(name):
        w, h, bpp, rows, _ = read_png(os.path.join(out, name + '.png'))
        return [bytes(r[180 * bpp:720 * bpp]) for r in rows[190:700]]
    plain, over, query = image_area('classify_next'), image_area('attention'), image_area('attention_query')
    for a, b, what in [(plain, over, 'the attention overlay'), (over, query, 'the picked query')]:
        changed = sum(x != y for ra, rb in zip(a, b) for x, y in zip(ra, rb)) / sum(len(r) for r in a)
        assert changed > 0.05, f'{what} changed only {changed:.1%} of the image bytes'
        print(f'gui-smoke: {what} changed {changed:.0%} of the image bytes')
if gen:
    saved = sorted(os.listdir(os.path.join(out, 'saved')))
    assert len(saved) == 2, f'expected the 2 selected images saved, got {saved}'
    for f in saved:
        _, _, _, _, text = read_png(os.path.join(out, 'saved', f))
        for key in ['model', 'class', 'seed', 'steps', 'cfg', 'guide', 'guide_w']:
            assert key in text, f'{f}: no {key} in its PNG text'
        assert text['guide'] == 'none', f'{f}: the tiny generator names no guide, the PNG says {text["guide"]}'
        print(f'gui-smoke: {f} model={text["model"]} class={text["class"]} seed={text["seed"]}')
        # The same image from the command line: the settings the app wrote, one image.
        cli = os.path.join(out, 'cli', f[:-4])
        args = [seer, 'generate', '--model', 'enat', '--weights', 'tests/golden/enat_tiny.weights.safetensors',
                '--tokenizer', text['tokenizer'], '--class', text['class'], '--seed', text['seed'],
                '--steps', text['steps'], '--cfg', text['cfg'], '--mask-temp', text['mask_temp'],
                '--samp-temp', text['samp_temp'], '--n', '1', '--out', cli]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        made = [g for g in os.listdir(cli) if g.endswith('.png')]
        assert len(made) == 1, f'seer generate made {made}'
        gui_px = read_png(os.path.join(out, 'saved', f))[:4]
        cli_px = read_png(os.path.join(cli, made[0]))[:4]
        assert gui_px[:3] == cli_px[:3], f'{f}: size/format differ from seer generate\'s {made[0]}'
        same = sum(a == b for a, b in zip(gui_px[3], cli_px[3]))
        assert same == len(gui_px[3]), f'{f}: {len(gui_px[3]) - same} pixel rows differ from seer generate'
        print(f'gui-smoke: {f} equals seer generate --seed {text["seed"]} pixel for pixel')
print('gui-smoke: ok')
EOF
