"""The repository speaks of the product and its versions, not of how it was made.

Every text file of the repository is scanned for words that narrate the work
(work sessions, tracker numbers, commits, relative releases; ``PATTERNS``
lists them). Documentation, comments and scripts
should say what the package does and which version changed it (see
``CHANGELOG.rst``), and point to the recorded benchmarks for evidence.

The scan walks the repository root, so it runs without git; it skips the git
directory, build and cache outputs, and binary or data files.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIS_FILE = Path(__file__).resolve()

# Directories never scanned: version control, environments, caches, build outputs.
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "build",
    "dist",
    "_build",
    "auto_examples",
    "gen_modules",
    "generated",
    "results",
    "node_modules",
}
# Binary and data files: images, recorded CSVs, compiled and archived files.
SKIP_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".pdf",
    ".csv",
    ".pyc",
    ".pyo",
    ".so",
    ".pt",
    ".pkl",
    ".npz",
    ".npy",
    ".zip",
    ".gz",
    ".whl",
    ".ipynb",
    ".lock",
}

# Each pattern, and what it catches.
PATTERNS = {
    r"\bsessions?\b": "a work session ('session 14', 'this session')",
    r"\b(previous|earlier|last|prior) releases?\b": "a release named by its place in time",
    r"\btoday'?s?\b": "'today's defaults': name the version or say 'the default'",
    r"\bin an earlier\b": "'in an earlier session/run'",
    r"\bissues? #?\d+\b": "an issue number",
    r"\b(this|last|previous|next|earlier) (turn|round)\b": "a round of work",
    r"\b(turn|round) \d+\b": "a numbered round of work",
    r"\bthe (new|old) defaults?\b": "a default named by its age: name the version",
    r"\bdefaults? of then\b": "a default named by its age: name the version",
    r"\bcommit [0-9a-f]{7,40}\b": "a commit hash: name the version",
    r"\bnot pursued\b": "narration of the work",
}
PROCESS_WORDS = re.compile("|".join(f"(?:{p})" for p in PATTERNS), re.IGNORECASE)

# Legitimate uses of those words, each as (file, the exact phrase, reason).
ALLOWED = [
    (
        "tests/conftest.py",
        'scope="session"',
        "pytest's fixture scope, a technical term",
    ),
    (
        "docs/user_guide/auxiliary.rst",
        "(subject, session, stimulus",
        "a recording session of an experiment, an example of an auxiliary variable",
    ),
]


def _text_files():
    """Every scanned file under the repository root, as paths relative to it."""
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in relative.parts[:-1]):
            continue
        if not path.is_file() or path.resolve() == THIS_FILE:
            continue
        if path.suffix.lower() in SKIP_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        if "\x00" in text:
            continue
        yield relative.as_posix(), text


def _allowed(relative, line, match):
    for file, phrase, _reason in ALLOWED:
        if relative != file or phrase.lower() not in line.lower():
            continue
        start = line.lower().index(phrase.lower())
        if start <= match.start() and match.end() <= start + len(phrase):
            return True
    return False


def find_process_words():
    """``file:line: text`` for every process word that is not allowed."""
    hits = []
    for relative, text in _text_files():
        for number, line in enumerate(text.splitlines(), 1):
            for match in PROCESS_WORDS.finditer(line):
                if not _allowed(relative, line, match):
                    hits.append(f"{relative}:{number}: {line.strip()[:120]}")
    return hits


def test_scan_sees_the_repository():
    files = {relative for relative, _ in _text_files()}
    assert "README.rst" in files
    assert "sklearn_ivae/ivae.py" in files
    assert not any(name.endswith((".png", ".csv")) for name in files)


def test_patterns_catch_process_talk():
    for phrase in [
        "measured in session 14",
        "in an earlier session",
        "the previous release's defaults",
        "today's defaults",
        "issue 15's target",
        "the default of then",
        "(commit 70c1e28)",
    ]:
        assert PROCESS_WORDS.search(phrase), phrase
    for phrase in [
        "it turns them into independent sources",
        "round(x, 6)",
        "float32 rounds differently",
        "version 0.1.0 changed the default",
        "turn off the progress bar",
    ]:
        assert not PROCESS_WORDS.search(phrase), phrase


def test_no_process_words():
    hits = find_process_words()
    assert not hits, (
        "Speak of the product and its versions, not of how it was made "
        "(or allow a legitimate use in ALLOWED, with a reason):\n" + "\n".join(hits)
    )
