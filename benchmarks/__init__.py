"""Benchmarks: the scripts that measure Tanya (answer quality, the reader and its decision, speed, scale,
memory, the page, Milvus, conversations, dates) and print the figures that BENCHMARKS.md reports. They
are not part of the wheel. Run each from the project root as a module, `python -m benchmarks.NAME`
(`python -m benchmarks.quality --help`); they import each other as `benchmarks.NAME`. The question sets
they read live in data/train, data/dev and data/test, each with its datasheet.
"""
