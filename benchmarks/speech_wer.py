#!/usr/bin/python3
"""Intelligibility of libnn's speech synthesiser against espeak-ng and flite, measured in one run.

For the first N captions of the Flickr8k test split (the first caption of each test image, cleaned as the
captioner cleans them), each synthesiser writes a WAV; Debian's pocketsphinx (en-us acoustic model) transcribes them
with a caption-domain bigram language model built here from the training captions (Witten-Bell backoff, ARPA format)
and a dictionary of their words; the word error rate is (substitutions + deletions + insertions) / reference words.
A second condition transcribes the same WAVs with pocketsphinx's general en-us trigram model and full dictionary:
harder, and it shows whether a gain is acoustic or only the domain model guessing. The words each recogniser got
wrong are then grouped by the class of their first phoneme that differs from what it heard (CMU dictionary), so a
change can be measured where it acts.

  /usr/bin/python3 benchmarks/speech_wer.py [--captions 200] [--data ../shared/data/flickr8k] [--build build]
                                            [--synthesisers libnn,espeak-ng,flite] [--conditions caption,general]
                                            (--synthesisers libnn-female: the female voice)

Needs: pocketsphinx pocketsphinx-en-us espeak-ng flite sox (Debian). Not a test: it prints a table.
"""
import argparse
import collections
import math
import os
import re
import subprocess
import sys
import tempfile
import time

HMM = "/usr/share/pocketsphinx/model/en-us/en-us"
DICT = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
GENERAL_LM = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"

# ARPAbet phonemes (stress digits dropped) by class, for the error report.
PHONEME_CLASS = {
    **{p: "vowel" for p in "AA AE AH AO EH ER IH IY UH UW".split()},
    **{p: "diphthong" for p in "AW AY EY OW OY".split()},
    **{p: "stop voiced" for p in "B D G".split()},
    **{p: "stop voiceless" for p in "P T K".split()},
    **{p: "affricate" for p in "CH JH".split()},
    **{p: "fricative voiced" for p in "V DH Z ZH".split()},
    **{p: "fricative voiceless" for p in "F TH S SH HH".split()},
    **{p: "nasal" for p in "M N NG".split()},
    **{p: "liquid/glide" for p in "L R W Y".split()},
}


def clean(caption):
    words = [re.sub(r"[^a-z]", "", w.lower()) for w in caption.split()]
    return [w for w in words if len(w) > 1 or w == "a"]


def read_captions(data):
    text = os.path.join(data, "text")
    captions = collections.defaultdict(list)
    for line in open(os.path.join(text, "Flickr8k.token.txt"), encoding="utf-8"):
        if "\t" in line:
            key, caption = line.rstrip("\n").split("\t", 1)
            captions[key.split("#")[0]].append(clean(caption))
    split = lambda name: [l.strip() for l in open(os.path.join(text, name)) if l.strip()]
    return captions, split("Flickr_8k.trainImages.txt"), split("Flickr_8k.testImages.txt")


def write_language_model(sentences, vocabulary, path):
    """A Witten-Bell bigram model with backoff to unigrams, in ARPA format."""
    unigrams, bigrams, followers = collections.Counter(), collections.Counter(), collections.defaultdict(set)
    for s in sentences:
        words = ["<s>"] + [w for w in s if w in vocabulary] + ["</s>"]
        unigrams.update(words)
        for a, b in zip(words, words[1:]):
            bigrams[(a, b)] += 1
            followers[a].add(b)
    total = sum(c for w, c in unigrams.items() if w != "<s>")
    p_uni = {w: (c if w != "<s>" else 0) / total for w, c in unigrams.items()}
    counts_from = collections.Counter()
    for (a, _), c in bigrams.items():
        counts_from[a] += c
    # Interpolated Witten-Bell: P(b|a) = λ·c(a,b)/c(a) + (1−λ)·P(b), λ = c(a) / (c(a) + types(a)); the unseen
    # bigrams' mass is then (1−λ)(1 − Σ_seen P(b)), so the backoff weight of a is exactly 1−λ.
    lines_uni, lines_bi = [], []
    for w in sorted(unigrams):
        types = len(followers.get(w, ()))
        backoff = 1 - counts_from[w] / (counts_from[w] + types) if types else 1.0
        prob = p_uni[w]
        lines_uni.append(f"{math.log10(prob) if prob > 0 else -99:.4f} {w} {math.log10(backoff):.4f}")
    for (a, b), c in sorted(bigrams.items()):
        types = len(followers[a])
        lam = counts_from[a] / (counts_from[a] + types)
        lines_bi.append(f"{math.log10(lam * c / counts_from[a] + (1 - lam) * p_uni[b]):.4f} {a} {b}")
    with open(path, "w") as f:
        f.write(f"\\data\\\nngram 1={len(lines_uni)}\nngram 2={len(lines_bi)}\n\n\\1-grams:\n")
        f.write("\n".join(lines_uni) + "\n\n\\2-grams:\n" + "\n".join(lines_bi) + "\n\n\\end\\\n")


def edit_distance(ref, hyp):
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def alignment(ref, hyp):
    """The (ref word or None, hyp word or None) pairs of a minimum edit alignment: substitutions, deletions
    (hyp None), insertions (ref None) and matches."""
    n, m = len(ref), len(hyp)
    d = [[i + j if i * j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs, i, j = [], n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            pairs.append((ref[i - 1], None))
            i -= 1
        else:
            pairs.append((None, hyp[j - 1]))
            j -= 1
    return pairs[::-1]


def error_class(ref, hyp, known):
    """Where a misrecognised reference word first differs from what was heard: the class of its first differing
    phoneme ("deleted" for a word not heard at all, "inserted" for a word heard that was not said)."""
    if ref is None:
        return "inserted"
    if hyp is None:
        return "deleted"
    a = [re.sub(r"\d", "", p) for p in known.get(ref, "").split()]
    b = [re.sub(r"\d", "", p) for p in known.get(hyp, "").split()]
    for x, y in zip(a, b):
        if x != y:
            return PHONEME_CLASS.get(x, "other")
    return "word end" if len(a) != len(b) else "homophone"


def transcribe(wav_dir, ids, lm, dictionary, work, tag=""):
    ctl = os.path.join(work, os.path.basename(wav_dir) + tag + ".ctl")
    hyp = ctl.replace(".ctl", ".hyp")
    with open(ctl, "w") as f:
        f.write("\n".join(ids) + "\n")
    subprocess.run(["pocketsphinx_batch", "-adcin", "yes", "-cepdir", wav_dir, "-cepext", ".wav", "-ctl", ctl,
                    "-hmm", HMM, "-lm", lm, "-dict", dictionary, "-hyp", hyp, "-logfn", os.devnull],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = {}
    for line in open(hyp):
        m = re.match(r"^(.*) \((\S+) [-\d]+\)$", line.strip())
        if m:
            out[m.group(2)] = m.group(1).split()
        elif line.strip():
            out[line.split()[-2].lstrip("(")] = []
    return out


def main():
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--captions", type=int, default=200)
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "flickr8k"))
    parser.add_argument("--build", default=os.path.join(here, "..", "build"))
    parser.add_argument("--keep", help="keep the WAVs and models in this folder")
    parser.add_argument("--synthesisers", default="libnn,espeak-ng,flite",
                        help="comma-separated, in table order (libnn-female: libnn's female voice)")
    parser.add_argument("--conditions", default="caption,general",
                        help="caption (the caption bigram model) and/or general (pocketsphinx's en-us model)")
    args = parser.parse_args()
    synthesisers, conditions = args.synthesisers.split(","), args.conditions.split(",")

    captions, train, test = read_captions(args.data)
    known = {}
    for line in open(DICT, encoding="utf-8"):
        parts = line.split()
        if parts and "(" not in parts[0]:
            known.setdefault(parts[0], " ".join(parts[1:]))
    train_sentences = [c for image in train for c in captions[image]]
    vocabulary = {w for s in train_sentences for w in s if w in known}
    work = args.keep or tempfile.mkdtemp(prefix="speech_wer_")
    os.makedirs(work, exist_ok=True)
    lm, dictionary = os.path.join(work, "captions.arpa"), os.path.join(work, "captions.dict")
    write_language_model(train_sentences, vocabulary, lm)
    with open(dictionary, "w") as f:
        f.writelines(f"{w} {known[w]}\n" for w in sorted(vocabulary))

    chosen = [(f"t{i:03d}", " ".join(captions[image][0])) for i, image in enumerate(test[: args.captions])]
    tsv = os.path.join(work, "captions.tsv")
    with open(tsv, "w") as f:
        f.writelines(f"{key}\t{text}\n" for key, text in chosen)
    ids = [key for key, _ in chosen]

    rows, classes = [], {}
    for name in synthesisers:
        wav_dir = os.path.join(work, name)
        os.makedirs(wav_dir, exist_ok=True)
        start = time.time()
        if name in ("libnn", "libnn-female"):
            voice = ["female"] if name == "libnn-female" else []
            out = subprocess.run([os.path.join(args.build, "benchmarks", "speech"), tsv, wav_dir] + voice, check=True,
                                 capture_output=True, text=True).stdout.strip()
            print(out)
        else:
            for key, text in chosen:
                raw = os.path.join(wav_dir, key + ".raw.wav")
                if name == "espeak-ng":
                    subprocess.run(["espeak-ng", "-w", raw, text], check=True)
                else:
                    subprocess.run(["flite", "-t", text, "-o", raw], check=True)
                subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", os.path.join(wav_dir, key + ".wav")],
                               check=True)
                os.remove(raw)
        synth = time.time() - start
        words = sum(len(text.split()) for _, text in chosen)
        wers = {}
        for condition in conditions:
            if condition == "caption":
                hyps = transcribe(wav_dir, ids, lm, dictionary, work)
            else:
                hyps = transcribe(wav_dir, ids, GENERAL_LM, DICT, work, ".general")
            errors = sum(edit_distance(text.split(), hyps.get(key, [])) for key, text in chosen)
            wers[condition] = (errors / words, errors)
            if condition == conditions[0]:
                classes[name] = collections.Counter(
                    error_class(r, h, known) for key, text in chosen
                    for r, h in alignment(text.split(), hyps.get(key, [])) if r != h)
        rows.append((name, wers, words, synth))
    titles = {"caption": f"pocketsphinx en-us with a caption bigram model ({len(vocabulary)} words)",
              "general": "pocketsphinx en-us with its general en-us trigram model and full dictionary"}
    for condition in conditions:
        print(f"\n{len(chosen)} test captions, {titles[condition]}")
        print(f"{'synthesiser':12} {'WER':>6} {'errors':>7} {'words':>6} {'wall s':>7}")
        for name, wers, words, synth in rows:
            print(f"{name:12} {wers[condition][0]:6.3f} {wers[condition][1]:7d} {words:6d} {synth:7.1f}")
    print(f"\nErrors ({conditions[0]} condition) by the class of the reference word's first phoneme that differs from "
          "the word heard")
    print(f"{'class':20}" + "".join(f" {name:>10}" for name in synthesisers))
    for c in sorted({c for counter in classes.values() for c in counter}, key=lambda c: -classes[synthesisers[0]][c]):
        print(f"{c:20}" + "".join(f" {classes[name][c]:10d}" for name in synthesisers))


if __name__ == "__main__":
    sys.exit(main())
