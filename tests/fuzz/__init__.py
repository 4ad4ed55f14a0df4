"""The fuzzer: seeded hostile repository states run through the `shipway` CLI (also used by
`bench/fuzz.py` for the long run)."""
