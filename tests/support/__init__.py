"""Test support code shared by tests and benchmarks (the oracle endpoint lives here)."""
