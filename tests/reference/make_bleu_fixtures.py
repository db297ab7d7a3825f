#!/usr/bin/python3
"""Writes tests/reference/fixtures/bleu.txt: small caption corpora made by a seeded grammar, and NLTK's corpus_bleu
(default closest reference length, no smoothing) with the cumulative BLEU-1…4 weights for each corpus.

Run with Debian's python3-nltk:  /usr/bin/python3 tests/reference/make_bleu_fixtures.py
Format: "corpus NAME", then per sentence "H words…" and one "R words…" line per reference, then
"bleu b1 b2 b3 b4" (17 significant digits).
"""
import os
import random
import warnings

from nltk.translate.bleu_score import corpus_bleu

HERE = os.path.dirname(os.path.abspath(__file__))
SUBJECTS = ["dog", "black dog", "small child", "man", "woman in red", "two girls", "brown horse"]
VERBS = ["runs", "is running", "jumps", "plays", "is sitting", "walks", "stands"]
PLACES = ["on the grass", "in the snow", "through the water", "on the beach", "near the tree", "down the street"]


def sentence(rng):
    words = "a %s %s %s" % (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(PLACES))
    return words.split()


def corpus(rng, n, noise):
    """Hypotheses that copy a reference and then drop, swap or replace words with probability `noise`."""
    items = []
    for _ in range(n):
        refs = [sentence(rng) for _ in range(rng.randint(1, 5))]
        hyp = list(rng.choice(refs))
        hyp = [w for w in hyp if rng.random() > noise / 2]
        for i in range(len(hyp)):
            if rng.random() < noise:
                hyp[i] = rng.choice(rng.choice(refs + [sentence(rng)]))
        if rng.random() < noise:
            hyp = hyp[: rng.randint(0, len(hyp))]
        items.append((hyp, refs))
    return items


def main():
    rng = random.Random(8)
    weights = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25, 0.25, 0.25, 0.25)]
    cases = {"close": corpus(rng, 40, 0.1), "noisy": corpus(rng, 60, 0.5), "short": corpus(rng, 12, 0.9)}
    cases["no_bigram"] = [(["dog"], [["a", "dog", "runs"]]), (["cat"], [["the", "cat"]])]
    out = os.path.join(HERE, "fixtures", "bleu.txt")
    with open(out, "w") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NLTK warns when an order has no match
        f.write("# written by tests/reference/make_bleu_fixtures.py with NLTK corpus_bleu (no smoothing)\n")
        for name, items in cases.items():
            f.write("corpus %s\n" % name)
            for hyp, refs in items:
                f.write("H %s\n" % " ".join(hyp))
                for ref in refs:
                    f.write("R %s\n" % " ".join(ref))
            scores = [corpus_bleu([r for _, r in items], [h for h, _ in items], weights=w) for w in weights]
            f.write("bleu %s\n" % " ".join("%.17g" % s for s in scores))
    print("wrote", out)


if __name__ == "__main__":
    main()
