"""MillionWS benchmark harness modules (driven by bench/bench.py)."""
