#!/usr/bin/env python3
"""Builds captioning/speech/data/cmudict.fc, the compact pronouncing dictionary the speech library embeds.

Sources (Debian packages, both permissive licences; see captioning/speech/data/LICENSE.cmudict):
  pocketsphinx-en-us  /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict   134k words, no stress marks
  festlex-cmu         /usr/share/festival/dicts/cmu/cmudict-0.4.out           105k words with lexical stress
The pronunciations are pocketsphinx's (the ones the recogniser of the intelligibility benchmark expects); each
word's vowel stresses come from CMUdict 0.4 where it has the word with the same number of vowels, otherwise from a
fallback rule (primary stress on the first full vowel). Only the first pronunciation of a word is kept.

Format (one line per word, words sorted bytewise):  <P><suffix> <phones>
  P       one character, chr(48 + n): the word shares its first n letters with the previous line's word
  phones  one character per phoneme (table PHONES below, mirrored in captioning/speech/lexicon.cpp); a vowel is
          followed by its stress digit 1 or 2 when it
          carries primary or secondary stress (no digit: unstressed)
"""
import re
import sys

PHONES = {  # ARPAbet → one character
    "AA": "a", "AE": "@", "AH": "^", "AO": "c", "AW": "W", "AY": "Y", "EH": "E", "ER": "R", "EY": "e",
    "IH": "I", "IY": "i", "OW": "o", "OY": "O", "UH": "U", "UW": "u",
    "B": "b", "CH": "C", "D": "d", "DH": "D", "F": "f", "G": "g", "HH": "h", "JH": "J", "K": "k", "L": "l",
    "M": "m", "N": "n", "NG": "G", "P": "p", "R": "r", "S": "s", "SH": "S", "T": "t", "TH": "T", "V": "v",
    "W": "w", "Y": "y", "Z": "z", "ZH": "Z",
}
VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
FEST_VOWELS = {"aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"}


def festival_stresses(path):
    """word → list of vowel stresses, from CMUdict 0.4 in Festival's syllabified form."""
    out = {}
    entry = re.compile(r'^\("([^"]+)" \S+ \((.*)\)\)$')
    syllable = re.compile(r"\(\(([^()]*)\) (\d)\)")
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = entry.match(line.strip())
            if not m or m.group(1) in out:
                continue
            stresses = []
            for phones, stress in syllable.findall(m.group(2)):
                stresses += [int(stress) for p in phones.split() if p in FEST_VOWELS]
            out[m.group(1)] = stresses
    return out


def fallback_stresses(vowels):
    stresses = [0] * len(vowels)
    full = [i for i, v in enumerate(vowels) if v != "AH"] or [0]
    if vowels:
        stresses[full[0]] = 1
    return stresses


def main(sphinx_dict, festival_dict, out_path):
    fest = festival_stresses(festival_dict)
    words = {}
    for line in open(sphinx_dict, encoding="utf-8"):
        parts = line.split()
        if len(parts) < 2 or "(" in parts[0]:
            continue  # alternates such as "read(2)"
        word = parts[0].lower()
        if not re.fullmatch(r"[a-z][a-z'.\-]*", word) or word in words:
            continue
        phones = [p for p in parts[1:] if p in PHONES]
        if len(phones) != len(parts) - 1:
            continue
        vowels = [p for p in phones if p in VOWELS]
        stresses = fest.get(word)
        if stresses is None or len(stresses) != len(vowels):
            stresses = fallback_stresses(vowels)
        code, k = [], 0
        for p in phones:
            code.append(PHONES[p])
            if p in VOWELS:
                if stresses[k]:
                    code.append(str(min(stresses[k], 2)))
                k += 1
        words[word] = "".join(code)
    previous = ""
    with open(out_path, "w", encoding="ascii", newline="\n") as f:
        for word in sorted(words):
            n = 0
            while n < min(len(word), len(previous), 70) and word[n] == previous[n]:
                n += 1
            f.write(chr(48 + n) + word[n:] + " " + words[word] + "\n")
            previous = word
    print(f"{len(words)} words → {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict",
         sys.argv[2] if len(sys.argv) > 2 else "/usr/share/festival/dicts/cmu/cmudict-0.4.out",
         sys.argv[3] if len(sys.argv) > 3 else "captioning/speech/data/cmudict.fc")
