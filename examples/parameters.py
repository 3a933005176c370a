"""Pipeline parameters of every type, and steps returning several values.

    python examples/parameters.py
    kale-argo run examples/parameters.py -p repeat=3 -p scale=0.5 -p word=hey -p shout=true
"""

from dataclasses import dataclass

from kale_argo import pipeline, step


@dataclass
class Stats:
    """A class defined in the script: its instances travel between steps by pickle."""

    count: int
    total: float


@step(name="make_words")
def make_words(word, repeat, shout):
    """Return three values: the words, how many, and a formatter defined as a lambda."""
    words = [word.upper() if shout else word] * repeat
    return words, len(words), (lambda w: f"<{w}>")


@step(name="measure")
def measure(words, count, scale):
    """Return two values computed from the first step's outputs and a float parameter."""
    stats = Stats(count=count, total=sum(len(w) for w in words) * scale)
    return stats, stats.total / max(count, 1)


@step(name="report")
def report(words, fmt, stats, mean, word):
    """Use every upstream value; the parameter 'word' is read again here."""
    line = " ".join(fmt(w) for w in words)
    print(f"{line} | count={stats.count} total={stats.total:g} mean={mean:g} word={word}")
    return line


@pipeline(name="parameters", experiment="kale-sdk")
def parameters(word="hello", repeat=2, scale=1.5, shout=False):
    words, count, fmt = make_words(word, repeat, shout)
    stats, mean = measure(words, count, scale)
    report(words, fmt, stats, mean, word=word)


if __name__ == "__main__":
    parameters(repeat=3)
