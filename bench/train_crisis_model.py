#!/usr/bin/env python3
"""Trains tocsin's crisis model: src/analyze/crisis_model.bin.

    python3 bench/train_crisis_model.py            # retrain and write the model file
    python3 bench/train_crisis_model.py --check    # retrain and fail unless the committed file is identical
    python3 bench/train_crisis_model.py --dev      # leave each corpus file out in turn and report how it reads
    python3 bench/train_crisis_model.py --golden   # print probabilities the Rust unit test compares with

Plain Python 3 standard library, fixed seed, deterministic output: the committed model file is
exactly what this script writes.

What it learns
--------------
The probability that a mention of the brand reports a crisis (something a PR team must act
on) rather than ordinary talk, whatever words it uses. The rule packs' lists catch the
crises they name; this model reads the ones told in words no list foresaw ("three kids in
hospital after eating Acme formula", "my Acme phone melted on the nightstand"). The bundled
`crisis-signal` rule opens an incident when it is sure (`crisis_above`).

Training data: tocsin's own detection corpus, tests/fixtures/detection/*.jsonl, written for
this project (crisis and benign headlines, posts, complaints and reviews in English and
Chinese). The blind files, holdout5-*.jsonl, are never trained on: they are the figure the
detection test reports as the one to believe.

Features (src/analyze/crisis.rs reads text exactly this way)
-----------------------------------------------------------
* Normalisation: each character in Unicode NFKC, lower case. tocsin also folds Traditional to
  Simplified before this; the corpus is Simplified already.
* The brand's names (the `brand` list, here Acme and 艾克米) are replaced by one placeholder
  token, so the model learns "<brand> recalls", not "acme recalls", and reads any brand alike.
* Tokens: a run of letters and digits outside CJK is a word (all digits: "0"); each CJK
  character is a token; each emoji is a token. Whitespace separates words; any other
  character (punctuation, symbols) breaks the text: no n-gram crosses it.
* Features (binary): each word and emoji; each pair of neighbouring words; the first five
  characters of a word longer than five (recall, recalls, recalled share "recal"); each CJK
  character, pair and triple inside a run of CJK characters. Each feature's key is the 64-bit
  FNV-1a hash of its UTF-8 text.
* Model: L2-regularised logistic regression, plain SGD over shuffled examples (seed 1).

File format (little endian): b"TCRM", u32 version, f32 bias, u32 count, then count pairs of
(u64 key, f32 weight) sorted by key. Weights below 0.005 in size are dropped.
"""

import argparse
import glob
import json
import math
import os
import random
import struct
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(ROOT, "tests", "fixtures", "detection")
MODEL = os.path.join(ROOT, "src", "analyze", "crisis_model.bin")
BRAND_LIST = os.path.join(ROOT, "rules", "lists", "brand.txt")
BLIND_PREFIX = "holdout5-"

VERSION = 1
EPOCHS = 30
LEARNING_RATE = 0.2
L2 = 1e-4
SEED = 1
MIN_WEIGHT = 0.005
BRAND = "\x00"

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a(text):
    h = FNV_OFFSET
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * FNV_PRIME) & MASK64
    return h


def is_cjk(cp):
    return (
        0x2E80 <= cp <= 0x2FDF
        or 0x3040 <= cp <= 0x30FF
        or 0x3100 <= cp <= 0x312F
        or 0x31F0 <= cp <= 0x31FF
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xAC00 <= cp <= 0xD7AF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
    )


def is_emoji(cp):
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF


def normalise(text):
    return "".join(unicodedata.normalize("NFKC", c).lower() for c in text)


def brand_terms():
    terms = []
    with open(BRAND_LIST, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                terms.append(normalise(line.strip('"')))
    return sorted(set(terms), key=lambda t: (-len(t), t))


def mask(text, terms):
    """Leftmost-longest replacement of the brand's names by the placeholder."""
    out = []
    i = 0
    while i < len(text):
        for term in terms:
            if text.startswith(term, i):
                out.append(BRAND)
                i += len(term)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def tokens(text):
    """("w", word) for words, the brand and emoji; ("c", char) for CJK; None for a break."""
    out = []
    word = []

    def flush():
        if word:
            w = "".join(word)
            out.append(("w", "0" if all("0" <= d <= "9" for d in w) else w))
            word.clear()

    for c in text:
        cp = ord(c)
        if c == BRAND:
            flush()
            out.append(("w", "<brand>"))
        elif is_cjk(cp):
            flush()
            out.append(("c", c))
        elif c.isalnum():
            word.append(c)
        elif is_emoji(cp):
            flush()
            out.append(("w", c))
        elif c.isspace():
            flush()
        else:
            flush()
            out.append(None)
    flush()
    return out


def features(text, terms):
    toks = tokens(mask(normalise(text), terms))
    found = set()
    for i, tok in enumerate(toks):
        if tok is None:
            continue
        kind, value = tok
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if kind == "w":
            found.add("w|" + value)
            if len(value) > 5:
                found.add("p|" + value[:5])
            if nxt is not None and nxt[0] == "w":
                found.add("b|" + value + " " + nxt[1])
        else:
            run = value
            found.add("c|" + run)
            for j in (1, 2):
                if i + j < len(toks) and toks[i + j] is not None and toks[i + j][0] == "c":
                    run += toks[i + j][1]
                    found.add("c|" + run)
                else:
                    break
    return sorted(fnv1a(f) for f in found)


def load(blind):
    rows = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.jsonl"))):
        name = os.path.basename(path)
        if name.startswith(BLIND_PREFIX) != blind:
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    item = json.loads(line)
                    rows.append((name, item["text"], 1.0 if item["crisis"] else 0.0))
    return rows


def sigmoid(z):
    z = max(-30.0, min(30.0, z))
    return 1.0 / (1.0 + math.exp(-z))


def train(examples):
    weights = {}
    bias = 0.0
    order = list(range(len(examples)))
    rng = random.Random(SEED)
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for i in order:
            keys, label = examples[i]
            p = sigmoid(bias + sum(weights.get(k, 0.0) for k in keys))
            gradient = p - label
            bias -= LEARNING_RATE * gradient * 0.1
            for k in keys:
                w = weights.get(k, 0.0)
                weights[k] = w - LEARNING_RATE * (gradient + L2 * w)
    return bias, weights


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def quantised(bias, weights):
    kept = {k: f32(w) for k, w in weights.items() if abs(w) >= MIN_WEIGHT}
    return f32(bias), kept


def probability(bias, weights, keys):
    return sigmoid(bias + sum(weights.get(k, 0.0) for k in keys))


def serialise(bias, weights):
    out = bytearray(b"TCRM")
    out += struct.pack("<IfI", VERSION, bias, len(weights))
    for k in sorted(weights):
        out += struct.pack("<Qf", k, weights[k])
    return bytes(out)


def build(rows, terms):
    return quantised(*train([(features(text, terms), label) for _, text, label in rows]))


GOLDEN = [
    "Acme recalls 40,000 tins of baby formula over possible contamination",
    "Acme opens its first store in Lisbon",
    "三名儿童食用艾克米奶粉后住院",
    "艾克米新品发布会圆满成功",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--dev", action="store_true")
    parser.add_argument("--golden", action="store_true")
    args = parser.parse_args()
    terms = brand_terms()
    rows = load(blind=False)
    if args.dev:
        for held in sorted({name for name, _, _ in rows}):
            bias, weights = build([r for r in rows if r[0] != held], terms)
            test = [r for r in rows if r[0] == held]
            for threshold in (0.8, 0.9, 0.95):
                p = [(probability(bias, weights, features(t, terms)), y) for _, t, y in test]
                crisis = [q for q, y in p if y == 1.0]
                benign = [q for q, y in p if y == 0.0]
                print(
                    f"{held:22} above {threshold}: crisis {sum(q > threshold for q in crisis) / len(crisis):.3f}"
                    f"  benign {sum(q > threshold for q in benign) / len(benign):.3f}"
                )
        return 0
    bias, weights = build(rows, terms)
    data = serialise(bias, weights)
    if args.golden:
        for text in GOLDEN:
            print(f"{probability(bias, weights, features(text, terms)):.6f}  {text}")
        return 0
    if args.check:
        with open(MODEL, "rb") as f:
            if f.read() != data:
                print("the committed crisis model differs from what this script trains", file=sys.stderr)
                return 1
        print(f"crisis model matches ({len(weights)} weights, {len(data)} bytes)")
        return 0
    with open(MODEL, "wb") as f:
        f.write(data)
    print(f"wrote {MODEL}: {len(weights)} weights, {len(data)} bytes, from {len(rows)} texts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
