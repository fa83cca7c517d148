"""How the real-manifest corpus fares: files per category and the most frequent diagnostic codes.

.venv/bin/python bench/corpus_report.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus_lib

from compiler.diagnostics import CODES


def category_table(outcomes) -> str:
    counts = corpus_lib.tally(outcomes)
    rows = ["| category | files |", "| --- | ---: |"]
    rows += [f"| {category} | {counts.get(category, 0)} |" for category in corpus_lib.CATEGORIES]
    rows.append(f"| total | {len(outcomes)} |")
    return "\n".join(rows)


def operator_table(outcomes) -> str:
    counts = Counter(
        (outcome.operators[0] if outcome.operators else None, outcome.category)
        for outcome in outcomes
    )
    operators = sorted({op for op, _ in counts}, key=lambda op: (op is None, str(op)))
    rows = [
        "| spec.operator | " + " | ".join(corpus_lib.CATEGORIES) + " |",
        "| --- |" + " ---: |" * len(corpus_lib.CATEGORIES),
    ]
    for op in operators:
        cells = " | ".join(str(counts.get((op, category), 0)) for category in corpus_lib.CATEGORIES)
        rows.append(f"| {op or '(none)'} | {cells} |")
    return "\n".join(rows)


def code_table(outcomes, top: int = 12) -> str:
    """Per code: how many files get it at least once."""
    files = Counter()
    for outcome in outcomes:
        files.update({(d.code, d.severity.value) for d in outcome.diagnostics})
    rows = ["| code | severity | files | meaning |", "| --- | --- | ---: | --- |"]
    for (code, severity), count in sorted(files.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
        rows.append(f"| {code} | {severity} | {count} | {CODES.get(code, '')} |")
    return "\n".join(rows)


def main() -> None:
    outcomes = corpus_lib.compile_corpus()
    print(f"Corpus: {corpus_lib.CORPUS} ({len(outcomes)} files)\n")
    print(category_table(outcomes), end="\n\n")
    print(operator_table(outcomes), end="\n\n")
    print(code_table(outcomes))
    rejected = [o for o in outcomes if o.category == corpus_lib.REJECTED]
    if rejected:
        print("\nRejected in-scope files:")
        for outcome in rejected:
            for d in outcome.diagnostics:
                if d.is_error:
                    print(
                        f"  {Path(d.location.file).name}:{d.location.line}:{d.location.column}: {d.code} {d.message}"
                    )


if __name__ == "__main__":
    main()
